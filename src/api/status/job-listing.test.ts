import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../jobs/job-event.ts';
import { hashId } from './id-filter.ts';
import { MAX_RANGES_PER_PAGE, decodeCursor, encodeCursor, listFromRecords, listJobs, type DecodedRange, type ListQuery, type ListingRange, type ListingSource, type PlacedEvent } from './job-listing.ts';

/** A stream of `n` jobs, one message each: job i queued at offset 2i (owner a or b), its outcome at 2i+3. */
function stream(n: number) {
  const messages: { offset: number; events: JobEvent[] }[] = [];
  const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  for (let i = 0; i < n; i++) {
    messages.push({ offset: 2 * i, events: [{ jobId: `j${i}`, status: 'queued', attempt: 1, at: at(i), route: i % 3 === 0 ? 'chat' : 'task', owner: i % 2 === 0 ? 'a' : 'b' }] });
    messages.push({ offset: 2 * i + 1, events: i >= 1 ? [{ jobId: `j${i - 1}`, status: (i - 1) % 5 === 0 ? 'failed' : 'succeeded', attempt: 1, at: at(i) }] : [] });
  }
  return { messages, at };
}

function source(n: number, perRange: number, reads: number[] = []): ListingSource {
  const { messages } = stream(n);
  const ranges: ListingRange[] = [];
  for (let s = 0; s < messages.length; s += perRange) {
    const part = messages.slice(s, s + perRange);
    const ids = new Set(part.flatMap((m) => m.events.map((e) => e.jobId)));
    ranges.unshift({ start: s, end: s + part.length - 1, minTs: undefined, maxTs: undefined, mayHold: (h) => [...ids].some((id) => hashId(id).h1 === h.h1 && hashId(id).h2 === h.h2) });
  }
  return {
    ranges: () => ranges,
    async read(range): Promise<DecodedRange> {
      reads.push(range.start);
      const queued: PlacedEvent[] = [];
      const byJob = new Map<string, PlacedEvent[]>();
      for (const m of messages.filter((x) => x.offset >= range.start && x.offset <= range.end)) {
        m.events.forEach((event, idx) => {
          const p = { offset: m.offset, idx, event };
          if (event.status === 'queued') queued.push(p);
          byJob.set(event.jobId, [...(byJob.get(event.jobId) ?? []), p]);
        });
      }
      return { queued, byJob };
    },
    cached: () => undefined,
  };
}

const all = (q: Partial<ListQuery> = {}): ListQuery => ({ limit: 10, visible: () => true, ...q });

describe('listing jobs over history', () => {
  it('lists newest first, with each job as it stands now (its later events read from newer ranges)', async () => {
    const page = await listJobs(source(40, 10), all({ limit: 4 }));
    expect(page.jobs.map((j) => `${j.id}:${j.status}`)).toEqual(['j39:queued', 'j38:succeeded', 'j37:succeeded', 'j36:succeeded']);
    expect(page.jobs[1]).toMatchObject({ route: 'task', attempts: 1, createdAt: stream(40).at(38) });
  });

  it('pages with the cursor, without overlap or gaps, to the oldest job', async () => {
    const src = source(40, 10);
    const seen: string[] = [];
    let before: ListQuery['before'];
    for (let i = 0; i < 20; i++) {
      const page = await listJobs(src, all({ limit: 7, ...(before ? { before } : {}) }));
      seen.push(...page.jobs.map((j) => j.id));
      if (page.next === undefined) break;
      before = { cursor: page.next };
    }
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `j${39 - i}`));
  });

  it('filters by status, route, time and visibility', async () => {
    const src = source(40, 10);
    const failed = await listJobs(src, all({ statuses: new Set(['failed']) }));
    expect(failed.jobs.map((j) => j.id)).toEqual(['j35', 'j30', 'j25', 'j20', 'j15', 'j10', 'j5', 'j0']);
    expect((await listJobs(src, all({ route: 'chat', limit: 3 }))).jobs.map((j) => j.id)).toEqual(['j39', 'j36', 'j33']);
    expect((await listJobs(src, all({ visible: (o) => o === 'b', limit: 3 }))).jobs.map((j) => j.id)).toEqual(['j39', 'j37', 'j35']);
    const { at } = stream(40);
    const window = await listJobs(src, all({ before: { at: Date.parse(at(20)) }, after: Date.parse(at(17)) }));
    expect(window.jobs.map((j) => j.id)).toEqual(['j19', 'j18', 'j17']);
  });

  it('filters by id prefix, and by queue (no job of this stream has one)', async () => {
    const src = source(40, 10);
    expect((await listJobs(src, all({ idPrefix: 'j3', limit: 20 }))).jobs.map((j) => j.id)).toEqual(['j39', 'j38', 'j37', 'j36', 'j35', 'j34', 'j33', 'j32', 'j31', 'j30', 'j3']);
    expect((await listJobs(src, all({ queue: 'llm.standard' }))).jobs).toEqual([]);
    const records = [
      { id: 'a1', owner: 'a', route: 'chat', queue: 'llm.standard', status: 'queued' as const, createdAt: '2026-01-01T00:00:01Z', updatedAt: '2026-01-01T00:00:01Z', attempts: [] },
      { id: 'a2', owner: 'a', route: 'chat', queue: 'llm.batch', status: 'queued' as const, createdAt: '2026-01-01T00:00:02Z', updatedAt: '2026-01-01T00:00:02Z', attempts: [] },
    ];
    expect(listFromRecords(records, all({ queue: 'llm.batch' })).jobs.map((j) => j.id)).toEqual(['a2']);
    expect(listFromRecords(records, all({ idPrefix: 'a1' })).jobs.map((j) => j.id)).toEqual(['a1']);
  });

  it('reads a bounded number of ranges per page, and the cursor carries the time bound to the next page', async () => {
    const reads: number[] = [];
    const src = source(200, 2, reads);
    const { at } = stream(200);
    const page = await listJobs(src, all({ statuses: new Set(['failed']), limit: 50, before: { at: Date.parse(at(150)) } }));
    expect(new Set(reads).size).toBeLessThanOrEqual(MAX_RANGES_PER_PAGE + 2);
    expect(page.jobs.length).toBeLessThan(50);
    expect(page.next).toBeDefined();
    expect(decodeCursor(page.next!)?.at).toBe(Date.parse(at(150)));
    const more = await listJobs(src, all({ statuses: new Set(['failed']), limit: 50, before: { cursor: page.next! } }));
    for (const j of [...page.jobs, ...more.jobs]) expect(Date.parse(j.createdAt)).toBeLessThan(Date.parse(at(150)));
    expect(more.jobs.map((j) => j.id).filter((id) => page.jobs.some((p) => p.id === id))).toEqual([]);
  });

  it('cursors round-trip, and anything else is not one', () => {
    expect(decodeCursor(encodeCursor({ offset: 123_456_789_012, idx: 7 }))).toEqual({ offset: 123_456_789_012, idx: 7 });
    expect(decodeCursor(encodeCursor({ offset: 1, idx: 0, at: 1_700_000_000_000 }))).toEqual({ offset: 1, idx: 0, at: 1_700_000_000_000 });
    expect(decodeCursor('2026-01-01')).toBeUndefined();
    expect(decodeCursor(Buffer.from('1.2.3.4').toString('base64url'))).toBeUndefined();
  });
});

describe('listing what an index holds (no history)', () => {
  const rec = (id: string, createdAt: string, owner: string, status: 'queued' | 'failed' = 'queued') => ({ id, owner, route: 'chat', queue: undefined, status, createdAt, updatedAt: createdAt, attempts: [] });
  it('lists newest first by creation, pages by cursor, filters like the history listing', () => {
    const records = [rec('a', '2026-01-01T00:00:01.000Z', 'x'), rec('b', '2026-01-01T00:00:03.000Z', 'x', 'failed'), rec('c', '2026-01-01T00:00:02.000Z', 'y'), rec('d', '2026-01-01T00:00:04.000Z', 'x')];
    const first = listFromRecords(records, all({ limit: 2, visible: (o) => o === 'x' }));
    expect(first.jobs.map((j) => j.id)).toEqual(['d', 'b']);
    const second = listFromRecords(records, all({ limit: 2, visible: (o) => o === 'x', before: { cursor: first.next! } }));
    expect(second).toEqual({ jobs: [expect.objectContaining({ id: 'a' })] });
    expect(listFromRecords(records, all({ statuses: new Set(['failed']) })).jobs.map((j) => j.id)).toEqual(['b']);
  });
});
