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
    expect(err.headers).toEqual({ 'retry-after': '1' });
    expect(err.details).toEqual({ limit: 2, scope: 'key' });
    a1();
    a1(); // twice gives back one slot only
    expect(limiter.inUse('a')).toBe(1);
    limiter.acquire('a');
    expect(() => limiter.acquire('a')).toThrow(ApiError);
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
