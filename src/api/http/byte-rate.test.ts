import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.ts';
import { createByteRate } from './byte-rate.ts';

describe('per-key byte rate', () => {
  it('lets a full burst through, then refuses with the Retry-After that makes room; keys are apart', () => {
    let t = 0;
    const rate = createByteRate({ bytesPerSecond: 100, burstBytes: 1000, code: 'BATCH_RATE_EXCEEDED', what: 'batch bytes', now: () => t, random: () => 0.99 });
    rate.admit('a', 1000);
    let err: ApiError | undefined;
    try {
      rate.admit('a', 250);
    } catch (e) {
      err = e as ApiError;
    }
    // 250 bytes at 100 B/s: 3 s, plus up to 2 s of jitter (here the most).
    expect([err?.status, err?.code, err?.headers['retry-after']]).toEqual([429, 'BATCH_RATE_EXCEEDED', '5']);
    rate.admit('b', 1000);
    t = 2_500;
    expect(() => rate.admit('a', 250)).not.toThrow();
    expect(() => rate.admit('a', 1)).toThrow(ApiError);
  });

  it('a body larger than the burst waits for a full bucket; a chunked one needs no debt and pays what it read', () => {
    let t = 0;
    const rate = createByteRate({ bytesPerSecond: 100, burstBytes: 1000, code: 'X', what: 'batch bytes', now: () => t });
    rate.admit('a', 5000); // takes the full bucket and goes 4000 into debt
    t = 10_000;
    expect(() => rate.admit('a', undefined)).toThrow(ApiError); // 1000 earned back: still 3000 short
    t = 41_000; // -4000 + 41 s x 100 B/s = 100 bytes saved
    const charge = rate.admit('a', undefined);
    charge(50);
    expect(() => rate.admit('a', 60)).toThrow(ApiError);
    expect(() => rate.admit('a', 50)).not.toThrow();
  });
});
