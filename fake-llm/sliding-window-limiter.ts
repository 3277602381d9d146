/** Result of {@link SlidingWindowLimiter.tryAcquire}. */
export type AcquireResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

/** Admits at most `limit` requests in any window of `windowMs` (a true sliding window, no bursts at edges). */
export interface SlidingWindowLimiter {
  /** Admits one request at `now`, or says how long until the oldest admitted one leaves the window. */
  tryAcquire(now: number): AcquireResult;
  /** Requests still admissible at `now`. */
  remaining(now: number): number;
  /** Ms until every admitted request has left the window (OpenAI's `x-ratelimit-reset-requests`). */
  resetInMs(now: number): number;
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * A ring buffer of the last `limit` admission times: O(1) per request and `limit` numbers of
 * memory, so a 100k RPM limit costs 800 KB and no per-request allocation.
 */
export function createSlidingWindowLimiter(limit: number, windowMs = 60_000): SlidingWindowLimiter {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
  const times = new Float64Array(limit);
  let head = 0;
  let count = 0;

  const evict = (now: number): void => {
    while (count > 0 && (times[head] ?? 0) <= now - windowMs) {
      head = (head + 1) % limit;
      count--;
    }
  };

  return {
    limit,
    windowMs,
    tryAcquire(now) {
      evict(now);
      if (count < limit) {
        times[(head + count) % limit] = now;
        count++;
        return { ok: true, remaining: limit - count };
      }
      return { ok: false, retryAfterMs: Math.max(1, (times[head] ?? now) + windowMs - now) };
    },
    remaining(now) {
      evict(now);
      return limit - count;
    },
    resetInMs(now) {
      evict(now);
      if (count === 0) return 0;
      const newest = times[(head + count - 1) % limit] ?? now;
      return Math.max(1, newest + windowMs - now);
    },
  };
}
