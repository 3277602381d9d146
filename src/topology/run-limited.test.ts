import { describe, expect, it } from 'vitest';
import { runLimited } from './run-limited.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('runLimited', () => {
  it('never has more than `limit` calls in flight and runs everything', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await runLimited([...Array(20).keys()], 3, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      seen.push(i);
      inFlight--;
    });
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(result.done).toHaveLength(20);
    expect(result.failed).toEqual([]);
    expect(result.notStarted).toEqual([]);
  });

  it('starts nothing new after a failure and lets running calls finish', async () => {
    const started: number[] = [];
    const result = await runLimited([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      if (i === 1) throw new Error('boom');
      await tick();
    });
    expect(started).toEqual([0, 1]);
    expect(result.done).toEqual([0]);
    expect(result.failed).toEqual([{ item: 1, error: new Error('boom') }]);
    expect(result.notStarted).toEqual([2, 3, 4, 5]);
  });

  it('handles no items', async () => {
    expect(await runLimited([], 4, async () => undefined)).toEqual({ done: [], failed: [], notStarted: [] });
  });
});
