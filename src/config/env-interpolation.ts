/**
 * `${VAR}` and `${VAR:-default}` interpolation for topology values, so no
 * secret has to live in the file. `$${` escapes a literal `${`.
 */

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Result of interpolating one string. */
export interface InterpolationResult {
  value: string;
  /** Variables referenced without a default that are not set. */
  missing: string[];
}

/** Replaces `${VAR}` / `${VAR:-default}` in `input` from `env`. */
export function interpolateEnv(input: string, env: NodeJS.ProcessEnv): InterpolationResult {
  const missing: string[] = [];
  const value = input.replace(PATTERN, (whole, varName: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${';
    const name = varName as string;
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return '';
  });
  return { value, missing };
}
