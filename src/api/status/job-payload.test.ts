import { describe, expect, it } from 'vitest';
import type { StoredPayload } from '../../jobs/job-event-payload.ts';
import { findStoredPayload, type ReadJobPayloads } from './job-payload.ts';

const stored = (text: string, totalBytes = text.length): StoredPayload => ({ text, storedBytes: text.length, totalBytes, truncated: totalBytes > text.length });

/** A fake stream: payloads by offset and job, read the way HistoryReads.readPayloads reads (one job's, in a range, in order). */
function streamOf(payloads: Record<number, Record<string, StoredPayload>>): { read: ReadJobPayloads; reads: [number, number][] } {
  const reads: [number, number][] = [];
  const read: ReadJobPayloads = async (start, end, id, out) => {
    reads.push([start, end]);
    for (let o = start; o <= end; o++) {
      const p = payloads[o]?.[id];
      if (p !== undefined) out(p);
    }
  };
  return { read, reads };
}

describe('findStoredPayload', () => {
  it("reads every range that may hold the job at once and answers the oldest range's payload", async () => {
    const { read, reads } = streamOf({ 1: { other: stored('{"no":1}') }, 5: { j: stored('{"a":', 900) }, 9: { j: stored('{"later":1}') } });
    const found = await findStoredPayload([{ start: 0, end: 3 }, { start: 4, end: 6 }, { start: 7, end: 9 }], read, 'j');
    expect(found).toEqual({ text: '{"a":', storedBytes: 5, totalBytes: 900, truncated: true });
    expect(reads).toEqual([[0, 3], [4, 6], [7, 9]]);
  });

  it('is undefined when no range holds a payload of the job', async () => {
    const { read } = streamOf({ 1: { other: stored('{}') } });
    expect(await findStoredPayload([{ start: 0, end: 3 }], read, 'j')).toBeUndefined();
    expect(await findStoredPayload([], read, 'j')).toBeUndefined();
  });
});
