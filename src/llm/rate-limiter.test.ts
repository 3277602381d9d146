import { describe, expect, it } from 'vitest';
import { budgetKeys, createRateLimiter } from './rate-limiter.ts';

/** Drives the limiter like the dispatcher does: grant when allowed, else jump to the wait. */
function simulate(rpm: number, windowMs: number, durationMs: number): number[] {
  let t = 0;
  const limiter = createRateLimiter({ windowMs, now: () => t });
  limiter.configure('p', { rpm });
  const grants: number[] = [];
  while (t < durationMs) {
    const wait = limiter.tryAcquire(['p'], 0);
    if (wait === 0) grants.push(t);
    else t += wait;
  }
  return grants;
}

describe('rate limiter (GCRA)', () => {
  it('never grants more than rpm in any window, and uses at least 97% of the budget', () => {
    for (const rpm of [1, 10, 60, 1200, 6000]) {
      const windowMs = 60_000;
      const grants = simulate(rpm, windowMs, 3 * windowMs);
      // Sliding check over every window starting at a grant.
      let j = 0;
      for (let i = 0; i < grants.length; i++) {
        while (j < grants.length && (grants[j] as number) < (grants[i] as number) + windowMs) j++;
        expect(j - i).toBeLessThanOrEqual(rpm);
      }
      if (rpm >= 60) expect(grants.length / 3).toBeGreaterThanOrEqual(rpm * 0.97);
    }
  });

  it('is all-or-nothing across keys and honours a block', () => {
    let t = 0;
    const limiter = createRateLimiter({ windowMs: 1000, safetyMs: 0, now: () => t });
    limiter.configure('p', { rpm: 1000 });
    limiter.configure('p/m', { rpm: 2 });
    const keys = budgetKeys('p', 'm');
    expect(keys).toEqual(['p', 'p/m']);
    expect(limiter.tryAcquire(keys, 0)).toBe(0);
    const wait = limiter.tryAcquire(keys, 0);
    expect(wait).toBeGreaterThan(900);
    // The provider key alone was not charged for the refused request: one interval (~1ms) later it grants again.
    t += 2;
    expect(limiter.tryAcquire(['p'], 0)).toBe(0);
    limiter.block(['p'], 5000);
    expect(limiter.tryAcquire(['p'], 0)).toBe(5000);
    t += 5000;
    expect(limiter.tryAcquire(['p'], 0)).toBe(0);
  });

  it('paces tokens and corrects the estimate with real usage', () => {
    let t = 0;
    const limiter = createRateLimiter({ windowMs: 60_000, safetyMs: 0, now: () => t });
    limiter.configure('p', { tpm: 6000 });
    expect(limiter.tryAcquire(['p'], 3000)).toBe(0);
    // 3000 tokens occupy half the window.
    expect(limiter.tryAcquire(['p'], 100)).toBe(30_000);
    limiter.adjustTokens(['p'], -2900); // the call really used 100 tokens
    expect(limiter.tryAcquire(['p'], 100)).toBe(1_000);
  });

  it('gives back an unused grant', () => {
    let t = 0;
    const limiter = createRateLimiter({ windowMs: 1000, safetyMs: 0, now: () => t });
    limiter.configure('p', { rpm: 2 });
    expect(limiter.tryAcquire(['p'], 0)).toBe(0);
    expect(limiter.tryAcquire(['p'], 0)).toBeGreaterThan(0);
    limiter.release(['p'], 0);
    expect(limiter.tryAcquire(['p'], 0)).toBe(0);
    expect(limiter.governs(['p'])).toBe(true);
    expect(limiter.governs(['q'])).toBe(false);
  });

  it('after a block lets one probe through, and the rest only once it succeeded', () => {
    let t = 0;
    const limiter = createRateLimiter({ now: () => t });
    limiter.block(['p/m'], 1000);
    expect(limiter.governs(['p/m'])).toBe(true);
    expect(limiter.tryAcquire(['p/m'], 0)).toBe(1000);
    t = 1000;
    expect(limiter.tryAcquire(['p/m'], 0)).toBe(0); // the probe
    expect(limiter.tryAcquire(['p/m'], 0)).toBeGreaterThan(0); // waits behind it
    limiter.block(['p/m'], 500); // the probe got a 429 again
    t = 1500;
    expect(limiter.tryAcquire(['p/m'], 0)).toBe(0);
    limiter.settle(['p/m'], true);
    expect(limiter.tryAcquire(['p/m'], 0)).toBe(0);
    expect(limiter.tryAcquire(['p/m'], 0)).toBe(0);
    expect(limiter.governs(['p/m'])).toBe(false);
  });
});
