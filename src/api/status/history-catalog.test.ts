import { describe, expect, it } from 'vitest';
import { newJobId } from '../../jobs/job-id.ts';
import { CLOCK_SKEW_MS, createHistoryCatalog } from './history-catalog.ts';
import { buildIdFilter } from './id-filter.ts';
import type { HistorySegment } from './history-segment.ts';

function seg(start: number, end: number, ids: string[] = [], maxTs?: number): HistorySegment {
  return { start, end, messages: end - start + 1, bytes: 1, events: ids.length, jobs: ids.length, minTs: maxTs, maxTs, anchor: `${start}`, filter: buildIdFilter(ids, ids.length) };
}

describe('history catalog', () => {
  it('keeps segments in offset order; an overlapping one is dropped unless it is our own, which replaces what it overlaps', () => {
    const c = createHistoryCatalog();
    expect(c.add(seg(10, 19))).toBe(true);
    expect(c.add(seg(0, 9))).toBe(true);
    expect(c.add(seg(30, 39))).toBe(true);
    expect(c.add(seg(15, 24))).toBe(false);
    expect(c.add(seg(10, 19), true)).toBe(false);
    expect(c.all().map((s) => s.start)).toEqual([0, 10, 30]);
    expect(c.add(seg(18, 31), true)).toBe(true);
    expect(c.all().map((s) => [s.start, s.end])).toEqual([
      [0, 9],
      [18, 31],
    ]);
    expect(c.end()).toBe(31);
  });

  it('names the holes between segments, finds the segment of an offset, and prunes what aged out', () => {
    const c = createHistoryCatalog();
    for (const s of [seg(5, 9), seg(10, 19), seg(25, 29), seg(40, 49)]) c.add(s);
    expect(c.holes(0)).toEqual([
      { start: 0, end: 4 },
      { start: 20, end: 24 },
      { start: 30, end: 39 },
    ]);
    expect(c.at(12)?.start).toBe(10);
    expect(c.at(22)).toBeUndefined();
    expect(c.prune(20)).toBe(2);
    expect(c.all().map((s) => s.start)).toEqual([25, 40]);
    expect(c.stats()).toMatchObject({ segments: 2, messages: 15 });
  });

  it('names the segments that may hold a job, and whether one before an offset does', () => {
    const c = createHistoryCatalog();
    c.add(seg(0, 9, ['a', 'b']));
    c.add(seg(10, 19, ['b']));
    c.add(seg(20, 29, ['c']));
    expect(c.candidates('b').map((s) => s.start)).toEqual([0, 10]);
    expect(c.candidates('zzz')).toEqual([]);
    expect(c.mayHave('c', 20)).toBe(false);
    expect(c.mayHave('c', 30)).toBe(true);
    expect(c.mayHave('a', 10)).toBe(true);
  });

  it('skips, for a time-ordered id, the segments written well before the id was created', () => {
    const now = Date.now();
    const old = newJobId(now - 3_600_000);
    const fresh = newJobId(now);
    const c = createHistoryCatalog();
    // The same ids in an old segment (written a little before `old` was created: within the clock skew allowed) and a recent one.
    c.add(seg(0, 9, [old, fresh], now - 3_600_000 - CLOCK_SKEW_MS / 2));
    c.add(seg(10, 19, [old, fresh], now));
    expect(c.candidates(fresh).map((s) => s.start)).toEqual([10]);
    expect(c.candidates(old).map((s) => s.start)).toEqual([0, 10]);
    // Older than the skew allows: skipped for `old` too.
    const d = createHistoryCatalog();
    d.add(seg(0, 9, [old], now - 3_600_000 - 2 * CLOCK_SKEW_MS));
    expect(d.candidates(old)).toEqual([]);
    // Ids that carry no time (v4, v5) are looked for everywhere.
    d.add(seg(10, 19, ['v5-like'], now - 30 * 86_400_000));
    expect(d.candidates('v5-like').map((s) => s.start)).toEqual([10]);
  });
});
