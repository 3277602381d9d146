import { ApiError } from '../api-error.ts';
import { jitteredRefusals, type RetryAfterRange } from './jittered-refusal.ts';

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

/** Options of {@link createKeyLimiter}. */
export interface KeyLimiterOptions {
  /** Slots each API key may hold at once. */
  perKey: number;
  /** Error code of the 429, e.g. `TOO_MANY_BATCHES`. */
  code: string;
  /** What a slot is, for the message: "concurrent batch requests". */
  what: string;
  /** Seconds in the 429's Retry-After, picked at random in the range. @default [1, 3] */
  retryAfter?: RetryAfterRange;
}

/** Counts what each API key holds at once (batches in progress, open SSE streams) and refuses beyond the limit. */
export interface KeyLimiter {
  /** Takes a slot for `key`, or throws a 429 ApiError with Retry-After when the key holds `perKey` already. */
  acquire(key: string): Release;
  /**
   * Takes a slot now (429 when there is none) and returns `fn` wrapped to give
   * it back when its promise settles: for a stream whose body runs after the
   * handler has returned its Response.
   */
  hold<A extends unknown[]>(key: string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  /** Slots `key` holds now. */
  inUse(key: string): number;
}

/** Creates a per-key concurrency limiter; keys that hold nothing take no memory. */
export function createKeyLimiter(options: KeyLimiterOptions): KeyLimiter {
  const held = new Map<string, number>();
  const refusal = jitteredRefusals(
    options.retryAfter ?? [1, 3],
    (seconds) =>
      new ApiError(429, options.code, `this API key already has ${options.perKey} ${options.what}, its limit; retry when one has finished`, {
        details: { limit: options.perKey, scope: 'key' },
        headers: { 'retry-after': String(seconds) },
      }),
  );

  function acquire(key: string): Release {
    const n = held.get(key) ?? 0;
    if (n >= options.perKey) throw refusal();
    held.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (held.get(key) ?? 1) - 1;
      if (left <= 0) held.delete(key);
      else held.set(key, left);
    };
  }

  return {
    acquire,
    hold(key, fn) {
      const release = acquire(key);
      return async (...args) => {
        try {
          await fn(...args);
        } finally {
          release();
        }
      };
    },
    inUse: (key) => held.get(key) ?? 0,
  };
}
