import { describe, expect, it } from 'vitest';
import { resolveCheckpoints, type CheckpointEntry } from './checkpoint-store.ts';
import { createSegmentBuilder, type HistorySegment } from './history-segment.ts';

const b = createSegmentBuilder(0, { maxBytes: 1e9, maxMessages: 1 });
const seg = (i: number): HistorySegment => b.add({ offset: i, bytes: 1, ids: [`j${i}`], ts: i, anchor: `${i}` })!;
const segments = Array.from({ length: 10 }, (_, i) => seg(i));
const record = (offset: number, s: HistorySegment, base?: number): CheckpointEntry => ({ offset, record: { kind: 'segment', segment: s, base } });
const part = (offset: number, id: string, p: number, parts: number, list: HistorySegment[]): CheckpointEntry => ({ offset, record: { kind: 'snapshot', id, part: p, parts, segments: list } });
const starts = (r: ReturnType<typeof resolveCheckpoints>) => ('segments' in r ? r.segments.map((s) => s.start) : r);

describe('what a boot keeps of the checkpoint stream', () => {
  it('the newest complete snapshot and every segment record read', () => {
    const entries = [record(1, segments[0]!), part(2, 's1', 0, 2, segments.slice(0, 3)), part(3, 's1', 1, 2, segments.slice(3, 5)), record(4, segments[5]!, 2), record(5, segments[6]!, 2)];
    expect(starts(resolveCheckpoints(entries, false))).toEqual([0, 1, 2, 3, 4, 0, 5, 6]);
    expect(resolveCheckpoints(entries, false)).toMatchObject({ snapshotOffset: 2 });
  });

  it('an incomplete snapshot is no starting point: the records say where the last complete one is', () => {
    const entries = [part(10, 's2', 0, 2, segments.slice(0, 3)), record(11, segments[7]!, 4), record(12, segments[8]!, 4)];
    expect(resolveCheckpoints(entries, false)).toEqual({ base: 4 });
    expect(resolveCheckpoints([record(11, segments[7]!)], false)).toEqual({ base: undefined });
    // Read from the start: whatever there is, is all there is.
    expect(starts(resolveCheckpoints([record(0, segments[0]!), record(1, segments[1]!)], true))).toEqual([0, 1]);
  });

  it('forgets everything before the newest epoch (the job-events stream was recreated)', () => {
    const entries = [part(1, 's1', 0, 1, segments.slice(0, 5)), record(2, segments[5]!, 1), { offset: 3, record: { kind: 'epoch' as const, at: 'x', reason: 'recreated' } }, record(4, segments[0]!)];
    expect(starts(resolveCheckpoints(entries, false))).toEqual([0]);
  });
});
