/** Options every warren error accepts. */
export interface WarrenErrorOptions {
  /** The underlying error, kept for `--verbose` and logs. */
  cause?: unknown;
  /** Machine-readable extra data, safe to show to users (never secrets). */
  details?: unknown;
}

/**
 * Marks warren errors across copies of the module: a handler loaded from the
 * user's project may import `warren` through another path (the package's
 * dist/, the repo's src/ under tsx) than the worker that classifies its error.
 */
const WARREN_ERROR = Symbol.for('warren.WarrenError');

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
    Object.defineProperty(this, WARREN_ERROR, { value: true });
  }

  /**
   * `err instanceof PermanentJobError` also holds for an error built by another
   * copy of warren's classes (same class name along the prototype chain), so a
   * handler's throw classifies the same whichever copy it imported.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !(WARREN_ERROR in value)) return false;
    for (let p: unknown = Object.getPrototypeOf(value); p !== null && p !== undefined; p = Object.getPrototypeOf(p)) {
      if ((p as { constructor?: { name?: string } }).constructor?.name === this.name) return true;
    }
    return false;
  }
}

/** True when `err` is a warren error, whatever its subclass. */
export function isWarrenError(err: unknown): err is WarrenError {
  return err instanceof WarrenError;
}
