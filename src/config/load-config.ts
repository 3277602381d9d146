import { ConfigError, type ConfigIssue } from '../errors/index.ts';
import { ENV_SETTINGS, type EnvSetting, type WarrenConfig } from './env-settings.ts';

/** Environment variables by name (process.env, or a plain object in tests). */
export type EnvVars = Readonly<Record<string, string | undefined>>;

/**
 * Reads each setting of `settings` from `env`: an unset or empty variable takes
 * its default; an invalid one fails with a ConfigError that names the variable
 * (all invalid ones at once; a secret's value is never echoed).
 */
export function loadSettings(settings: Readonly<Record<string, EnvSetting<unknown>>>, env: EnvVars): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, s] of Object.entries(settings)) {
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
    issues.push({ variable: s.env, message: s.secret === true ? `${problem} (value not shown: it is a secret)` : `${problem}, got '${raw}'` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

/** warren's settings ({@link ENV_SETTINGS}) from `env`; the CLI calls this once at start and passes the result down. */
export function loadConfig(env: EnvVars): WarrenConfig {
  return loadSettings(ENV_SETTINGS, env) as WarrenConfig;
}

/** The configuration with every variable unset: the declared defaults. */
export function defaultConfig(): WarrenConfig {
  return loadConfig({});
}
