import { WarrenError } from '../../errors/index.ts';

/**
 * Why the job history could not answer (yet). Every code is transient: the
 * HTTP edge answers 503 with Retry-After.
 * - `STATUS_INDEX_REPLAYING`: a freshly started replica has not reached the end of the stream yet.
 * - `STATUS_HISTORY_INDEXING`: part of the stream is not indexed yet (first start after an upgrade, or after all replicas were down a long time); the job may be there.
 * - `STATUS_HISTORY_UNAVAILABLE`: reading the stream failed (broker away, stream deleted).
 */
export type JobHistoryErrorCode = 'STATUS_INDEX_REPLAYING' | 'STATUS_HISTORY_INDEXING' | 'STATUS_HISTORY_UNAVAILABLE';

/** A job-history answer that is not available now; retry after `retryAfterS`. */
export class JobHistoryError extends WarrenError {
  override readonly name = 'JobHistoryError';
  /** Seconds a client should wait before asking again. */
  readonly retryAfterS: number;

  constructor(code: JobHistoryErrorCode, message: string, options: { cause?: unknown; retryAfterS?: number } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.retryAfterS = options.retryAfterS ?? 1;
  }
}

/** A stream the history reads does not exist (deleted, or the topology was never applied). */
export class StreamMissingError extends WarrenError {
  override readonly name = 'StreamMissingError';
  /** The stream's name. */
  readonly stream: string;

  constructor(stream: string, cause?: unknown) {
    super('STREAM_NOT_FOUND', `stream '${stream}' does not exist (run warren topology apply)`, cause === undefined ? {} : { cause });
    this.stream = stream;
  }
}

/** A failed read of the job-events stream as the history's answer: a JobHistoryError as it is, anything else STATUS_HISTORY_UNAVAILABLE. */
export function streamReadError(err: unknown): JobHistoryError {
  return err instanceof JobHistoryError ? err : new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', `could not read the job-events stream: ${(err as Error).message}`, { cause: err, retryAfterS: 2 });
}

/** The job may be in the part of the history not indexed yet. */
export function partStillIndexing(): JobHistoryError {
  return new JobHistoryError('STATUS_HISTORY_INDEXING', 'this part of the job history is still being indexed (first start after an upgrade); retry shortly', { retryAfterS: 5 });
}
