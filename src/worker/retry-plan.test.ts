import { describe, expect, it } from 'vitest';
import { planRetry } from './retry-plan.ts';

const tiers = [
  { delayMs: 200, queue: 'q.retry.200ms' },
  { delayMs: 500, queue: 'q.retry.500ms' },
  { delayMs: 2000, queue: 'q.retry.2s' },
];

describe('planRetry', () => {
  it('uses backoff[attempt-1], the last tier for later attempts, and no expiration without jitter', () => {
    const backoff = [200, 500, 2000];
    expect(planRetry({ tiers, backoff, jitter: 0, attempt: 1 })).toEqual({ queue: 'q.retry.200ms', delayMs: 200 });
    expect(planRetry({ tiers, backoff, jitter: 0, attempt: 2 })).toEqual({ queue: 'q.retry.500ms', delayMs: 500 });
    expect(planRetry({ tiers, backoff, jitter: 0, attempt: 7 })).toEqual({ queue: 'q.retry.2s', delayMs: 2000 });
  });

  it('jitter only shortens the wait, through a per-message expiration', () => {
    const plan = planRetry({ tiers, backoff: [500], jitter: 0.2, attempt: 1, random: () => 1 });
    expect(plan).toEqual({ queue: 'q.retry.500ms', delayMs: 400, expiration: '400' });
    const none = planRetry({ tiers, backoff: [500], jitter: 0.2, attempt: 1, random: () => 0 });
    expect(none).toEqual({ queue: 'q.retry.500ms', delayMs: 500 });
  });

  it('honours Retry-After by moving to the smallest tier that covers it', () => {
    expect(planRetry({ tiers, backoff: [200], jitter: 0, attempt: 1, retryAfterMs: 300 })).toEqual({ queue: 'q.retry.500ms', delayMs: 300, expiration: '300' });
    expect(planRetry({ tiers, backoff: [200], jitter: 0, attempt: 1, retryAfterMs: 500 })).toEqual({ queue: 'q.retry.500ms', delayMs: 500 });
  });

  it('caps a Retry-After longer than every tier at the largest tier', () => {
    expect(planRetry({ tiers, backoff: [200], jitter: 0, attempt: 1, retryAfterMs: 60_000 })).toEqual({ queue: 'q.retry.2s', delayMs: 2000 });
  });

  it('returns undefined without tiers', () => {
    expect(planRetry({ tiers: [], backoff: [], jitter: 0, attempt: 1 })).toBeUndefined();
  });
});
