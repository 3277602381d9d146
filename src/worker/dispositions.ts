import type { Disposition, ErrorClass } from '../config/topology-schema.ts';

/**
 * THE disposition table: what warren does with a job whose handler failed,
 * by error class. Read it top to bottom; it is the only place that decides
 * retry versus dead-letter. A consumer may override a row with
 * `onError: { <class>: retry | dead-letter | { route: <fallback> } }`.
 *
 * | error class      | default     | raised by                                                        |
 * |------------------|-------------|------------------------------------------------------------------|
 * | rate-limited     | retry       | HTTP 429 (Retry-After honoured, the consumer pauses meanwhile)   |
 * | server-error     | retry       | HTTP 5xx, 409                                                    |
 * | timeout          | retry       | the job's timeout, the provider timeout, HTTP 408                |
 * | connection       | retry       | refused / reset / DNS errors talking to the provider             |
 * | transient        | retry       | the handler's TransientJobError (its retryAfterMs honoured)      |
 * | unknown          | retry       | anything unclassified: retried up to the limit, then dead-lettered |
 * | bad-request      | dead-letter | HTTP 400 (and 413)                                               |
 * | context-length   | dead-letter | HTTP 400 context_length_exceeded (a fallback route is typical)   |
 * | auth             | dead-letter | HTTP 401 / 403, 429 insufficient_quota                           |
 * | not-found        | dead-letter | HTTP 404 (unknown model)                                         |
 * | unprocessable    | dead-letter | HTTP 422                                                         |
 * | content-filter   | dead-letter | finish_reason content_filter, 400 content policy                  |
 * | permanent        | dead-letter | the handler's PermanentJobError                                  |
 * | invalid-payload  | dead-letter | not JSON / fails the route's schema; never retried or forwarded  |
 *
 * Retries are bounded by the queue's retry policy (`attempts`, counted in the
 * `x-warren-attempt` header, never in x-death). When they run out the job is
 * dead-lettered with reason `attempts-exhausted`. A queue without a retry
 * policy has one attempt: a retryable failure dead-letters at once with
 * reason `attempts-exhausted`. Nothing is ever nacked back with requeue on
 * failure, so there is no requeue loop.
 */
export const DISPOSITION_TABLE: Readonly<Record<ErrorClass, 'retry' | 'dead-letter'>> = {
  'rate-limited': 'retry',
  'server-error': 'retry',
  timeout: 'retry',
  connection: 'retry',
  transient: 'retry',
  unknown: 'retry',
  'bad-request': 'dead-letter',
  'context-length': 'dead-letter',
  auth: 'dead-letter',
  'not-found': 'dead-letter',
  unprocessable: 'dead-letter',
  'content-filter': 'dead-letter',
  permanent: 'dead-letter',
  'invalid-payload': 'dead-letter',
};

/** Reason written to `x-warren-reason` when retries ran out. */
export const REASON_ATTEMPTS_EXHAUSTED = 'attempts-exhausted';

/** What to do with one failed job. */
export type Decision =
  | { kind: 'retry'; nextAttempt: number }
  | { kind: 'dead-letter'; reason: string }
  | { kind: 'forward'; route: string };

/** Inputs of {@link decideDisposition}. */
export interface DispositionInput {
  errorClass: ErrorClass;
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** Attempts allowed by the queue's retry policy; 1 when the queue has none. */
  maxAttempts: number;
  /** The consumer's `onError` entry for this class, if any. */
  override?: Disposition | undefined;
  /** Routes this job was already forwarded to (a forward never loops). */
  forwardedTo?: readonly string[];
}

/** Applies the table (and the consumer's override) to one failure. */
export function decideDisposition(input: DispositionInput): Decision {
  const { errorClass, attempt, maxAttempts } = input;
  // A payload that can't be parsed fails the same way everywhere: no retry, no forward.
  if (errorClass === 'invalid-payload') return { kind: 'dead-letter', reason: 'invalid-payload' };
  const rule = input.override ?? DISPOSITION_TABLE[errorClass];
  if (typeof rule === 'object') {
    if (input.forwardedTo?.includes(rule.route)) return { kind: 'dead-letter', reason: errorClass };
    return { kind: 'forward', route: rule.route };
  }
  if (rule === 'dead-letter') return { kind: 'dead-letter', reason: errorClass };
  if (attempt < maxAttempts) return { kind: 'retry', nextAttempt: attempt + 1 };
  return { kind: 'dead-letter', reason: REASON_ATTEMPTS_EXHAUSTED };
}
