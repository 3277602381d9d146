import { ConfigError, type ConfigIssue } from '../errors/index.ts';
import { ENV_SETTINGS, type SettingName, type WarrenConfig } from './env-settings.ts';

/** Environment variables by name (process.env, or a plain object in tests). */
export type EnvVars = Readonly<Record<string, string | undefined>>;

/**
 * Reads every setting of {@link ENV_SETTINGS} from `env`, once: an unset or
 * empty variable takes its default; an invalid one fails with a ConfigError
 * that names the variable (all invalid ones at once; secrets are not echoed).
 */
export function loadConfig(env: EnvVars): WarrenConfig {
  const out: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, s] of Object.entries(ENV_SETTINGS) as [SettingName, (typeof ENV_SETTINGS)[SettingName]][]) {
    const raw = env[s.env]?.trim();
    if (raw === undefined || raw === '') {
      out[name] = s.default;
      continue;
    }
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) {
      out[name] = parsed.data;
      continue;
    }
    const problem = parsed.error.issues[0]?.message ?? 'is invalid';
    issues.push({ variable: s.env, message: 'secret' in s && s.secret ? problem : `${problem}, got '${raw}'` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out as WarrenConfig;
}

/** The configuration with every variable unset: the declared defaults. */
export function defaultConfig(): WarrenConfig {
  return loadConfig({});
}
