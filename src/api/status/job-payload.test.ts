import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../jobs/job-event.ts';
import { findStoredPayload, type ReadJobRange } from './job-payload.ts';

const at = '2026-01-01T00:00:00.000Z';

/** A fake stream: events by offset, read the way HistoryReads.readRange reads (one job's events in a range, in order). */
function streamOf(events: Record<number, JobEvent[]>): { read: ReadJobRange; reads: [number, number][] } {
  const reads: [number, number][] = [];
  const read: ReadJobRange = async (start, end, id, out) => {
    reads.push([start, end]);
    for (let o = start; o <= end; o++) (events[o] ?? []).forEach((event, idx) => event.jobId === id && out({ offset: o, idx, event }));
  };
  return { read, reads };
}

describe('findStoredPayload', () => {
  it("reads the job's queued event in the first range that holds one, and no further range", async () => {
    const { read, reads } = streamOf({
      1: [{ jobId: 'other', status: 'queued', attempt: 1, at, payload: '{"no":1}', payloadBytes: 8 }],
      2: [{ jobId: 'j', status: 'running', attempt: 1, at }],
      5: [{ jobId: 'j', status: 'queued', attempt: 1, at, payload: '{"a":', payloadBytes: 900 }],
      9: [{ jobId: 'j', status: 'succeeded', attempt: 1, at }],
    });
    const found = await findStoredPayload([{ start: 0, end: 3 }, { start: 4, end: 6 }, { start: 7, end: 9 }], read, 'j');
    expect(found).toEqual({ text: '{"a":', storedBytes: 5, totalBytes: 900, truncated: true });
    expect(reads).toEqual([[0, 3], [4, 6]]);
  });

  it('is undefined when no queued event of the job carries a payload', async () => {
    const { read } = streamOf({ 1: [{ jobId: 'j', status: 'queued', attempt: 1, at }], 2: [{ jobId: 'j', status: 'succeeded', attempt: 1, at, result: { payload: 'x' } }] });
    expect(await findStoredPayload([{ start: 0, end: 3 }], read, 'j')).toBeUndefined();
    expect(await findStoredPayload([], read, 'j')).toBeUndefined();
  });
});
