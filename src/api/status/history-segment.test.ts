import { describe, expect, it } from 'vitest';
import { hashId } from './id-filter.ts';
import { createSegmentBuilder, extractJobIds, messageAnchor, timestampMs, type ExtractedMessage, type HistorySegment } from './history-segment.ts';

const msg = (offset: number, ids: string[], bytes = 100, ts?: number): ExtractedMessage => ({ offset, bytes, ids, ts, anchor: `a${offset}` });

function comparable(s: HistorySegment) {
  return { ...s, filter: Buffer.from(s.filter.bits).toString('base64') };
}

describe('extractJobIds', () => {
  it('reads the ids of a lone event and of a job.batch array without parsing them', () => {
    expect(extractJobIds(Buffer.from(JSON.stringify({ jobId: 'a', status: 'queued', at: 'x' })))).toEqual(['a']);
    expect(extractJobIds(Buffer.from(JSON.stringify([{ jobId: 'a', status: 'queued' }, { source: 'w', jobId: 'b-1.x:y', status: 'running' }])))).toEqual(['a', 'b-1.x:y']);
    expect(extractJobIds(Buffer.from('[{"jobId" : "spaced" ,"status":"queued"}]'))).toEqual(['spaced']);
  });

  it('picks up a jobId nested in a result (one id too many is harmless), and none from what is not events', () => {
    expect(extractJobIds(Buffer.from(JSON.stringify({ jobId: 'a', status: 'succeeded', result: { jobId: 'inner' } })))).toEqual(['a', 'inner']);
    expect(extractJobIds(Buffer.from('not json'))).toEqual([]);
    expect(extractJobIds(Buffer.from('{"marker":"m"}'))).toEqual([]);
    // A key inside a string value is escaped in JSON, so it is not a key.
    expect(extractJobIds(Buffer.from(JSON.stringify({ jobId: 'a', status: 'failed', error: { class: 'x', message: '"jobId":"fake"' } })))).toEqual(['a']);
    // Nor in a payload, which a queued event carries as a string: a tenant can't plant ids in the segment filters.
    expect(extractJobIds(Buffer.from(JSON.stringify({ jobId: 'a', status: 'queued', at: 'x', payload: JSON.stringify({ jobId: 'planted' }), payloadBytes: 20 })))).toEqual(['a']);
  });

  it('falls back to the decoder for an escaped id', () => {
    expect(extractJobIds(Buffer.from('{"jobId":"a\\u0062","status":"queued","at":"x"}'))).toEqual(['ab']);
  });
});

describe('timestampMs and messageAnchor', () => {
  it('reads AMQP timestamps in seconds (the spec) and in milliseconds (warren events until now)', () => {
    expect(timestampMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(timestampMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(timestampMs(undefined)).toBeUndefined();
    expect(timestampMs(-5)).toBeUndefined();
  });

  it('tells messages apart by length and start', () => {
    expect(messageAnchor(Buffer.from('abc'))).toBe(messageAnchor(Buffer.from('abc')));
    expect(messageAnchor(Buffer.from('abc'))).not.toBe(messageAnchor(Buffer.from('abd')));
    expect(messageAnchor(Buffer.alloc(600, 1))).not.toBe(messageAnchor(Buffer.alloc(601, 1)));
  });
});

describe('segment builder', () => {
  it('closes a segment at the byte or message limit, the next one starting right after', () => {
    const b = createSegmentBuilder(10, { maxBytes: 250, maxMessages: 10 });
    expect(b.add(msg(10, ['a'], 100, 1_000))).toBeUndefined();
    expect(b.add(msg(11, ['b', 'a'], 100, 3_000))).toBeUndefined();
    const first = b.add(msg(12, [], 100, 2_000));
    expect(first).toMatchObject({ start: 10, end: 12, messages: 3, bytes: 300, events: 3, jobs: 2, minTs: 1_000, maxTs: 3_000, anchor: 'a12' });
    expect(first!.filter.has(hashId('a'))).toBe(true);
    expect(first!.filter.has(hashId('c'))).toBe(false);
    expect(b.open.start).toBe(13);
    const c = createSegmentBuilder(0, { maxBytes: 1e9, maxMessages: 2 });
    c.add(msg(0, ['x']));
    expect(c.add(msg(1, ['y']))).toMatchObject({ start: 0, end: 1, messages: 2 });
  });

  it('knows exactly which ids the open segment holds so far', () => {
    const b = createSegmentBuilder(0);
    b.add(msg(0, ['a']));
    expect(b.open.has('a')).toBe(true);
    expect(b.open.has('b')).toBe(false);
    expect(b.close()).toMatchObject({ start: 0, end: 0 });
    expect(b.close()).toBeUndefined();
  });

  it('cuts the same segments however the messages reach it (one reader, or a backfill that hands over to the tail)', () => {
    const messages = Array.from({ length: 500 }, (_, i) => msg(i + 7, [`job-${i}`, `job-${i >> 2}`], 40 + (i % 13) * 9, 1_000 + i));
    const limits = { maxBytes: 1_500, maxMessages: 30 };
    const oneGo = createSegmentBuilder(7, limits);
    const a = messages.map((m) => oneGo.add(m)).filter((s) => s !== undefined);
    // A backfill reads the first 321 messages, then replays what the tail buffered, then the tail goes on.
    const backfill = createSegmentBuilder(7, limits);
    const b = [...messages.slice(0, 321), ...messages.slice(321, 400), ...messages.slice(400)].map((m) => backfill.add(m)).filter((s) => s !== undefined);
    expect(b.map(comparable)).toEqual(a.map(comparable));
    expect(a.length).toBeGreaterThan(10);
    // Contiguous: each starts where the previous ended.
    for (let i = 1; i < a.length; i++) expect(a[i]!.start).toBe(a[i - 1]!.end + 1);
  });
});
