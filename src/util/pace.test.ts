import { describe, expect, it } from 'vitest';
import { createPace } from './pace.ts';

describe('createPace', () => {
  it('lets bytes through at the rate on average', async () => {
    const pace = createPace(1_000_000); // 1 MB/s
    const started = performance.now();
    for (let i = 0; i < 10; i++) await pace(10_000); // 100 KB: 100 ms
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(85);
    expect(took).toBeLessThan(400);
  });

  it('lets a burst through at once, then paces', async () => {
    const pace = createPace(1_000_000, 50_000);
    const started = performance.now();
    for (let i = 0; i < 5; i++) await pace(10_000); // within the burst
    expect(performance.now() - started).toBeLessThan(20);
    await pace(50_000); // 50 ms beyond it
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
  });
});
