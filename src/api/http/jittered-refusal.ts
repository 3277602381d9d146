import type { ApiError } from '../api-error.ts';

/** Seconds a 429's Retry-After may say, `[min, max]` inclusive. */
export type RetryAfterRange = readonly [min: number, max: number];

/**
 * The refusals of one limit, built once (no stack trace per 429: refusing must
 * cost less than the work it refuses), one per whole second of `range`, handed
 * out at random. Clients refused in the same instant (400 SSE connections
 * opened at once) then come back spread over the range instead of all together:
 * a synchronised retry wave of 400 requests held the API's event loop for a
 * few hundred milliseconds.
 */
export function jitteredRefusals(range: RetryAfterRange, build: (retryAfterSeconds: number) => ApiError): () => ApiError {
  const [min, max] = range;
  const refusals = Array.from({ length: Math.max(1, max - min + 1) }, (_, i) => build(min + i));
  return () => refusals[Math.floor(Math.random() * refusals.length)] as ApiError;
}
