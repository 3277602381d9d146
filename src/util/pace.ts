import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A pace of `bytesPerSecond`: each call resolves when its bytes may go, so that
 * what passes averages that rate (GCRA: a theoretical arrival time moved on by
 * each call). Up to `burstBytes` go at once; a pace left idle saves up no more than that.
 */
export function createPace(bytesPerSecond: number, burstBytes = 0): (bytes: number) => Promise<void> {
  let tat = 0;
  const burstMs = (burstBytes / bytesPerSecond) * 1000;
  return (bytes) => {
    const now = performance.now();
    tat = Math.max(tat, now) + (bytes / bytesPerSecond) * 1000;
    const wait = tat - now - burstMs;
    return wait < 1 ? Promise.resolve() : sleep(wait);
  };
}
