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
