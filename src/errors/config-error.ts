import { WarrenError } from './warren-error.ts';

/** One environment variable that does not parse. */
export interface ConfigIssue {
  /** The variable, e.g. `WARREN_API_PORT`. */
  variable: string;
  /** What is wrong, e.g. `must be a port number 0-65535, got 'abc'`. */
  message: string;
}

/** The environment holds invalid settings; carries every one found at once, each naming its variable. */
export class ConfigError extends WarrenError {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const head = issues.length === 1 ? 'invalid configuration' : `invalid configuration (${issues.length} problems)`;
    super('CONFIG_INVALID', `${head}:\n${issues.map((i) => `  - ${i.variable} ${i.message}`).join('\n')}`, { details: { issues } });
    this.issues = issues;
  }
}
