import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.ts';
import { createKeyLimiter } from './key-limiter.ts';

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('per-key limiter', () => {
  it('gives each key its own slots and answers 429 with Retry-After beyond them', () => {
    const limiter = createKeyLimiter({ perKey: 2, code: 'TOO_MANY_BATCHES', what: 'batch requests in progress' });
    const a1 = limiter.acquire('a');
    limiter.acquire('a');
    limiter.acquire('b');
    const err = caught(() => limiter.acquire('a'));
    expect(err.status).toBe(429);
    expect(err.code).toBe('TOO_MANY_BATCHES');
    expect(['1', '2', '3']).toContain(err.headers['retry-after']);
    expect(err.details).toEqual({ limit: 2, scope: 'key' });
    a1();
    a1(); // twice gives back one slot only
    expect(limiter.inUse('a')).toBe(1);
    limiter.acquire('a');
    expect(() => limiter.acquire('a')).toThrow(ApiError);
  });

  it('spreads Retry-After over its range, so clients refused together come back apart', () => {
    const limiter = createKeyLimiter({ perKey: 0, code: 'X', what: 'things', retryAfter: [5, 15] });
    const seen = new Set(Array.from({ length: 300 }, () => caught(() => limiter.acquire('k')).headers['retry-after']));
    expect([...seen].map(Number).sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('hold() takes the slot at once and gives it back when the wrapped function settles, even when it throws', async () => {
    const limiter = createKeyLimiter({ perKey: 1, code: 'TOO_MANY_STREAMS', what: 'open event streams' });
    let finish: () => void = () => undefined;
    const run = limiter.hold('k', () => new Promise<void>((r) => (finish = r)));
    expect(limiter.inUse('k')).toBe(1);
    expect(() => limiter.hold('k', async () => undefined)).toThrow(ApiError);
    const done = run();
    finish();
    await done;
    expect(limiter.inUse('k')).toBe(0);
    const failing = limiter.hold('k', async () => {
      throw new Error('boom');
    });
    await expect(failing()).rejects.toThrow('boom');
    expect(limiter.inUse('k')).toBe(0);
  });
});
