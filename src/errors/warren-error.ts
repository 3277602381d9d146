/** Options every warren error accepts. */
export interface WarrenErrorOptions {
  /** The underlying error, kept for `--verbose` and logs. */
  cause?: unknown;
  /** Machine-readable extra data, safe to show to users (never secrets). */
  details?: unknown;
}

/**
 * Base class of every error warren raises on purpose. `code` is stable and
 * meant for scripts and HTTP bodies; `message` is for humans.
 */
export class WarrenError extends Error {
  override readonly name: string = 'WarrenError';
  readonly code: string;
  readonly details: unknown;

  constructor(code: string, message: string, options: WarrenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** True when `err` is a warren error, whatever its subclass. */
export function isWarrenError(err: unknown): err is WarrenError {
  return err instanceof WarrenError;
}
