import { describe, expect, it } from 'vitest';
import { mapTimeSliced, mapWindowed } from './time-sliced.ts';

describe('mapTimeSliced', () => {
  it('maps in order and lets timers run between slices of a long map', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // spin: a CPU-bound item
      }
    };
    const out = await mapTimeSliced(Array.from({ length: 160 }, (_, i) => i), (n) => {
      busy(0.5);
      return n * 2;
    });
    clearInterval(timer);
    expect(out).toEqual(Array.from({ length: 160 }, (_, i) => i * 2));
    // ~80 ms of work in 4 ms slices: the 1 ms timer ran in between.
    expect(ticks).toBeGreaterThan(5);
  });
});

describe('mapWindowed', () => {
  it('keeps at most `count` tasks and `weight` unsettled, starts the rest in order, returns results in order', async () => {
    let running = 0;
    let peak = 0;
    let peakWeight = 0;
    let weight = 0;
    const started: number[] = [];
    const out = await mapWindowed(
      Array.from({ length: 20 }, (_, i) => i),
      async (n) => {
        started.push(n);
        running++;
        weight += 10;
        peak = Math.max(peak, running);
        peakWeight = Math.max(peakWeight, weight);
        await new Promise((r) => setTimeout(r, 1 + ((n * 7) % 5)));
        running--;
        weight -= 10;
        return `r${n}`;
      },
      { count: 4, weight: 25, weigh: () => 10 },
    );
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(2);
    expect(peakWeight).toBe(20);
  });

  it('lets one item heavier than the whole weight through on its own', async () => {
    expect(await mapWindowed([5, 6], async (n) => n, { count: 4, weight: 1, weigh: () => 100 })).toEqual([5, 6]);
    expect(await mapWindowed([], async (n: number) => n, { count: 1 })).toEqual([]);
  });
});
