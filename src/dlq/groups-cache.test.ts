import { describe, expect, it } from 'vitest';
import { createGroupsCache, MAX_ENTRIES } from './groups-cache.ts';

describe('groups cache', () => {
  it('reuses a count while young and the depth is unchanged; counts again when the depth moved, when asked, after invalidate or when old', async () => {
    let depth = 10;
    let t = 0;
    let scans = 0;
    const cache = createGroupsCache<{ n: number }>({ depth: async () => depth, maxAgeMs: 60_000, now: () => t });
    const scan = async () => ({ n: ++scans });
    expect(await cache.get('dead', 'k', 'valid', scan)).toMatchObject({ n: 1, cached: false });
    expect(await cache.get('dead', 'k', 'valid', scan)).toMatchObject({ n: 1, cached: true, scannedAt: new Date(0).toISOString() });
    depth = 11;
    expect(await cache.get('dead', 'k', 'valid', scan)).toMatchObject({ n: 2, cached: false });
    expect(await cache.get('dead', 'k', 'fresh', scan)).toMatchObject({ n: 3, cached: false });
    cache.invalidate('dead');
    expect(await cache.get('dead', 'k', 'valid', scan)).toMatchObject({ n: 4, cached: false });
    t = 60_000;
    expect(await cache.get('dead', 'k', 'valid', scan)).toMatchObject({ n: 5, cached: false });
    // Another filter set is another count.
    expect(await cache.get('dead', 'other', 'valid', scan)).toMatchObject({ n: 6, cached: false });
    // `stale`: the last count whatever its age and the depth since; a count only when there is none.
    depth = 99;
    t = 10 * 60_000;
    expect(await cache.get('dead', 'other', 'stale', scan)).toMatchObject({ n: 6, cached: true });
    expect(await cache.get('dead', 'third', 'stale', scan)).toMatchObject({ n: 7, cached: false });
  });

  it('concurrent callers share one scan (a second exclusive reader would be refused)', async () => {
    let scans = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const cache = createGroupsCache<{ n: number }>({ depth: async () => 5, maxAgeMs: 60_000 });
    const scan = async () => {
      scans++;
      await gate;
      return { n: scans };
    };
    const both = Promise.all([cache.get('dead', 'k', 'valid', scan), cache.get('dead', 'k', 'valid', scan)]);
    await new Promise((r) => setTimeout(r, 5));
    release();
    expect((await both).map((r) => r.n)).toEqual([1, 1]);
    expect(scans).toBe(1);
  });

  it('keeps at most MAX_ENTRIES counts, dropping the oldest', async () => {
    let scans = 0;
    const cache = createGroupsCache<{ n: number }>({ depth: async () => 1, maxAgeMs: 60_000 });
    const scan = async () => ({ n: ++scans });
    for (let i = 0; i <= MAX_ENTRIES; i++) await cache.get('dead', `k${i}`, 'valid', scan);
    expect((await cache.get('dead', `k${MAX_ENTRIES}`, 'valid', scan)).cached).toBe(true);
    expect((await cache.get('dead', 'k0', 'valid', scan)).cached).toBe(false);
  });
});
