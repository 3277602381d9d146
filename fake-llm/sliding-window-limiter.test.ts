import { describe, expect, it } from 'vitest';
import { createSlidingWindowLimiter } from './sliding-window-limiter.ts';

describe('createSlidingWindowLimiter', () => {
  it('admits `limit` requests per window and then says when the oldest leaves it', () => {
    const l = createSlidingWindowLimiter(3, 1000);
    expect(l.tryAcquire(0)).toEqual({ ok: true, remaining: 2 });
    expect(l.tryAcquire(100)).toEqual({ ok: true, remaining: 1 });
    expect(l.tryAcquire(200)).toEqual({ ok: true, remaining: 0 });
    expect(l.tryAcquire(300)).toEqual({ ok: false, retryAfterMs: 700 });
    // The refused request did not take a slot: at 1000 the first one has left.
    expect(l.tryAcquire(1000)).toEqual({ ok: true, remaining: 0 });
    expect(l.tryAcquire(1050)).toEqual({ ok: false, retryAfterMs: 50 });
  });

  it('slides instead of resetting at window edges (no double burst)', () => {
    const l = createSlidingWindowLimiter(2, 1000);
    l.tryAcquire(900);
    l.tryAcquire(950);
    // A fixed window would reset at 1000 and admit two more; a sliding one must not.
    expect(l.tryAcquire(1001).ok).toBe(false);
    expect(l.tryAcquire(1900).ok).toBe(true);
  });

  it('reports remaining and the time until it is fully replenished', () => {
    const l = createSlidingWindowLimiter(2, 1000);
    expect(l.remaining(0)).toBe(2);
    expect(l.resetInMs(0)).toBe(0);
    l.tryAcquire(0);
    l.tryAcquire(400);
    expect(l.remaining(500)).toBe(0);
    expect(l.resetInMs(500)).toBe(900);
    expect(l.remaining(1000)).toBe(1);
  });

  it('wraps its ring buffer over many windows', () => {
    const l = createSlidingWindowLimiter(5, 100);
    let admitted = 0;
    for (let t = 0; t < 10_000; t += 5) if (l.tryAcquire(t).ok) admitted++;
    // 20 requests arrive per window of 100 ms; 5 fit: a quarter of 2,000.
    expect(admitted).toBe(500);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => createSlidingWindowLimiter(0)).toThrow(RangeError);
    expect(() => createSlidingWindowLimiter(1.5)).toThrow(RangeError);
  });
});
