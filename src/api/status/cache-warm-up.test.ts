import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../observability/logger.ts';
import { createCacheWarmUp } from './cache-warm-up.ts';
import { createHistoryCatalog } from './history-catalog.ts';
import { createSegmentBuilder } from './history-segment.ts';
import { createJobStatusIndex } from './job-status-index.ts';
import type { StreamReader } from './stream-reader.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

/** A stream of messages at offsets 0.., each a JSON array of events; the reader hands them over like amqplib does. */
function fakeStream(messages: object[][]): { reader: StreamReader; read: number[] } {
  const read: number[] = [];
  const reader: StreamReader = {
    async read(_stream, start, onMessage) {
      for (let o = typeof start === 'number' ? start : 0; o < messages.length; o++) {
        read.push(o);
        const msg = { content: Buffer.from(JSON.stringify(messages[o])), properties: { type: 'job.batch', headers: { 'x-stream-offset': o } }, fields: {} } as unknown as ConsumeMessage;
        if (!onMessage(msg, o)) return 'stopped';
      }
      return 'idle';
    },
    close: async () => undefined,
  };
  return { reader, read };
}

describe('cache warm-up', () => {
  it('fills the cache from indexed segments, completing what started in them and flagging what started before', async () => {
    const messages = [
      [{ jobId: 'old', status: 'queued', attempt: 1, at: at(0) }],
      [{ jobId: 'a', status: 'queued', attempt: 1, at: at(1), owner: 'k' }],
      [{ jobId: 'old', status: 'succeeded', attempt: 1, at: at(2), result: { n: 1 } }, { jobId: 'a', status: 'running', attempt: 1, at: at(2) }],
      [{ jobId: 'a', status: 'succeeded', attempt: 1, at: at(3), result: { n: 2 } }],
    ];
    // Segment 0 holds offset 0 (job 'old'); segment 1 offsets 1-3: the warm-up replays segment 1 only.
    const catalog = createHistoryCatalog();
    const b = createSegmentBuilder(0, { maxBytes: 1e9, maxMessages: 1 });
    catalog.add(b.add({ offset: 0, bytes: 1, ids: ['old'], ts: 0, anchor: 'x' })!);
    const c = createSegmentBuilder(1, { maxBytes: 1e9, maxMessages: 3 });
    c.add({ offset: 1, bytes: 1, ids: ['a'], ts: 1, anchor: 'x' });
    c.add({ offset: 2, bytes: 1, ids: ['old', 'a'], ts: 2, anchor: 'x' });
    catalog.add(c.add({ offset: 3, bytes: 1, ids: ['a'], ts: 3, anchor: 'x' })!);
    const index = createJobStatusIndex({ capacity: 100 });
    const { reader, read } = fakeStream(messages);
    const replayed: string[] = [];
    const warm = createCacheWarmUp({ reader, reads: { accept: () => true }, index, catalog, stream: 's', logger: createSilentLogger(), onEvent: (e) => replayed.push(`${e.jobId}:${e.status}`) });
    warm.start(1, 3);
    expect(warm.isWarming()).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(warm.isWarming()).toBe(false);
    expect(read).toEqual([1, 2, 3]);
    // Every event of the range goes to onEvent (the front door's usage ledger), also those of jobs the cache leaves alone.
    expect(replayed).toEqual(['a:queued', 'old:succeeded', 'a:running', 'a:succeeded']);
    expect(index.peek('a')).toMatchObject({ complete: true, owner: 'k', view: { status: 'succeeded', result: { n: 2 } } });
    // Its queued event is in an earlier segment: shown once a lookup completed it.
    expect(index.peek('old')).toMatchObject({ complete: false, view: { status: 'succeeded' } });
  });

  it('leaves a job the tail touched to the tail', async () => {
    const messages = [[{ jobId: 'j', status: 'queued', attempt: 1, at: at(1) }], [{ jobId: 'j', status: 'running', attempt: 1, at: at(2) }]];
    const catalog = createHistoryCatalog();
    const b = createSegmentBuilder(0, { maxBytes: 1e9, maxMessages: 2 });
    b.add({ offset: 0, bytes: 1, ids: ['j'], ts: 0, anchor: 'x' });
    catalog.add(b.add({ offset: 1, bytes: 1, ids: ['j'], ts: 1, anchor: 'x' })!);
    const index = createJobStatusIndex({ capacity: 100 });
    let warm: ReturnType<typeof createCacheWarmUp> | undefined;
    // The tail applies a newer event of `j` while the warm-up is between its two messages.
    const reader: StreamReader = {
      async read(_s, _start, onMessage) {
        const m = (o: number) => ({ content: Buffer.from(JSON.stringify(messages[o])), properties: { type: 'job.batch', headers: {} }, fields: {} }) as unknown as ConsumeMessage;
        onMessage(m(0), 0);
        const tailEvent = { jobId: 'j', status: 'succeeded' as const, attempt: 1, at: at(9) };
        index.apply(tailEvent);
        warm!.onTailApplied(tailEvent);
        onMessage(m(1), 1);
        return 'stopped';
      },
      close: async () => undefined,
    };
    warm = createCacheWarmUp({ reader, reads: { accept: () => true }, index, catalog, stream: 's', logger: createSilentLogger() });
    warm.start(0, 1);
    await new Promise((r) => setTimeout(r, 20));
    // The warm-up's older `running` was not applied after the tail's `succeeded`; the record is marked for a lookup.
    expect(index.peek('j')).toMatchObject({ complete: false, view: { status: 'succeeded', attempts: [{ attempt: 1, status: 'succeeded' }] } });
    expect(index.peek('j')?.view.attempts[0]?.startedAt).toBeUndefined();
  });
});
