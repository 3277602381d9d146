import { ApiError } from '../api-error.ts';
import { jitteredRefusals, type RetryAfterRange } from './jittered-refusal.ts';
import type { Release } from './key-limiter.ts';

/** Options of {@link createBodyBudget}. */
export interface BodyBudgetOptions {
  /** Request body bytes the whole API reads and processes at once. */
  totalBytes: number;
  /** Share of it one API key may hold, so one tenant can't take it all. */
  perKeyBytes: number;
  /** Seconds in the 429's Retry-After, picked at random in the range. @default [1, 3] */
  retryAfter?: RetryAfterRange;
}

/**
 * The global in-flight body budget: every request with a body reserves its
 * size before the body is read and gives it back when its response is ready.
 * A parsed JSON body costs a few times its size in memory (text, objects, one
 * message buffer per job), so this bounds the API's memory under concurrent
 * large requests, which otherwise grows without limit.
 */
export interface BodyBudget {
  /** Reserves `bytes` for `key`, or throws a 429 ApiError with Retry-After (the key's share, or the whole budget, is in use). */
  reserve(key: string, bytes: number): Release;
  /** Bytes reserved now, in total and by `key`. */
  inUse(key?: string): number;
}

/** Creates the budget; keys that hold nothing take no memory. */
export function createBodyBudget(options: BodyBudgetOptions): BodyBudget {
  let total = 0;
  const byKey = new Map<string, number>();
  const range = options.retryAfter ?? [1, 3];
  const refusals = {
    key: jitteredRefusals(
      range,
      (seconds) =>
        new ApiError(429, 'BODY_BUDGET_EXCEEDED', `this request would take this API key's bodies in progress over its share of ${options.perKeyBytes} bytes; retry when its other requests have finished`, {
          details: { limit: options.perKeyBytes, scope: 'key' },
          headers: { 'retry-after': String(seconds) },
        }),
    ),
    global: jitteredRefusals(
      range,
      (seconds) =>
        new ApiError(429, 'BODY_BUDGET_EXCEEDED', 'the API is reading as many request bodies as it takes at once; retry shortly', {
          details: { limit: options.totalBytes, scope: 'global' },
          headers: { 'retry-after': String(seconds) },
        }),
    ),
  };

  return {
    reserve(key, bytes) {
      const mine = byKey.get(key) ?? 0;
      if (mine + bytes > options.perKeyBytes) throw refusals.key();
      if (total + bytes > options.totalBytes) throw refusals.global();
      byKey.set(key, mine + bytes);
      total += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total -= bytes;
        const left = (byKey.get(key) ?? bytes) - bytes;
        if (left <= 0) byKey.delete(key);
        else byKey.set(key, left);
      };
    },
    inUse: (key) => (key === undefined ? total : (byKey.get(key) ?? 0)),
  };
}
