import { WarrenError, type WarrenErrorOptions } from './warren-error.ts';

/** Thrown by a handler: the job can never succeed; dead-letter it now. */
export class PermanentJobError extends WarrenError {
  override readonly name = 'PermanentJobError';
  constructor(message: string, options: WarrenErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'PERMANENT_JOB_ERROR', message, options);
  }
}

/** Thrown by a handler: try again later, after `retryAfterMs` when given. */
export class TransientJobError extends WarrenError {
  override readonly name = 'TransientJobError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: WarrenErrorOptions & { code?: string; retryAfterMs?: number } = {}) {
    super(options.code ?? 'TRANSIENT_JOB_ERROR', message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}
