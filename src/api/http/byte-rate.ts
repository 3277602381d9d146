import { ApiError } from '../api-error.ts';

/** Options of {@link createByteRate}. */
export interface ByteRateOptions {
  /** Bytes per second each key earns back. */
  bytesPerSecond: number;
  /** Most a key can have saved up (and so send in one burst). */
  burstBytes: number;
  /** Error code of the 429. */
  code: string;
  /** What is counted, for the message: "batch bytes". */
  what: string;
  /** Seconds added at random to a Retry-After, so that requests refused together don't all come back together. @default 2 */
  jitterSeconds?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * A token bucket per API key. The concurrency limits and the body budget bound
 * how much one key holds at once; this bounds how much it sends over time, so
 * one key posting 16 MiB batches back to back can't take most of the API's CPU
 * (parsing, building and writing 16 MiB per batch) from everyone else.
 */
export interface ByteRate {
  /**
   * Admits a request of `bytes` (its Content-Length) for the key and takes them from its bucket, or
   * throws a 429 ApiError whose Retry-After says when they will be there. For a body of unknown size
   * (chunked) it only asks that the key is not in debt; the returned function charges the size read.
   */
  admit(key: string, bytes: number | undefined): (readBytes: number) => void;
}

/** Creates the buckets; a key whose bucket is full again takes no memory. */
export function createByteRate(options: ByteRateOptions): ByteRate {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = options.bytesPerSecond / 1000;
  // Sweeps full buckets now and then, so keys that went quiet are forgotten.
  let nextSweep = now() + 60_000;

  function level(key: string, t: number): number {
    const b = buckets.get(key);
    return b === undefined ? options.burstBytes : Math.min(options.burstBytes, b.tokens + (t - b.at) * perMs);
  }

  function refuse(needed: number, tokens: number): never {
    const seconds = Math.max(1, Math.ceil((needed - tokens) / options.bytesPerSecond)) + Math.floor(random() * ((options.jitterSeconds ?? 2) + 1));
    throw new ApiError(429, options.code, `this API key sends ${options.what} faster than ${options.bytesPerSecond} bytes per second; retry in ${seconds} s`, {
      details: { limit: options.bytesPerSecond, scope: 'key', retryAfterSeconds: seconds },
      headers: { 'retry-after': String(seconds) },
    });
  }

  function charge(key: string, bytes: number, t: number): void {
    buckets.set(key, { tokens: level(key, t) - bytes, at: t });
  }

  return {
    admit(key, bytes) {
      const t = now();
      if (t >= nextSweep) {
        nextSweep = t + 60_000;
        for (const k of [...buckets.keys()]) if (level(k, t) >= options.burstBytes) buckets.delete(k);
      }
      const tokens = level(key, t);
      if (bytes === undefined) {
        if (tokens < 1) refuse(1, tokens);
        return (readBytes) => charge(key, readBytes, now());
      }
      // A request larger than the burst waits for a full bucket (and empties it), rather than never passing.
      const needed = Math.min(bytes, options.burstBytes);
      if (tokens < needed) refuse(needed, tokens);
      charge(key, bytes, t);
      return () => undefined;
    },
  };
}
