import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../errors/index.ts';
import { signedEventProperties } from '../../jobs/job-event-publisher.ts';
import { createJobEventKeyring } from '../../jobs/job-event-signature.ts';
import { StreamMissingError } from './history-errors.ts';
import { createHistoryReads } from './history-reads.ts';
import type { PlacedEvent } from './job-listing.ts';
import type { StreamReader } from './stream-reader.ts';

const keys = createJobEventKeyring('history-reads-test-root-key-0123456789', 'vh');

/** A signed job event at `offset`, as the stream delivers it. */
function message(jobId: string, offset: number): ConsumeMessage {
  const content = Buffer.from(JSON.stringify({ jobId, status: 'queued', attempt: 0, at: '2026-12-03T00:00:00.000Z', source: 'api', route: 'chat' }));
  const props = signedEventProperties(keys, 'job.queued', content);
  return { content, fields: {}, properties: { ...props, headers: { ...props.headers, 'x-stream-offset': offset } } } as unknown as ConsumeMessage;
}

/** A narrow fake of the stream reader: each read delivers offsets 0..2, and the reads listed in `failures` then reject. */
function fakeReader(failures: Map<number, Error>): StreamReader & { reads: number } {
  const fake = {
    reads: 0,
    async read(_stream: string, start: number | 'first' | 'last', onMessage: (msg: ConsumeMessage, offset: number) => boolean) {
      const n = ++fake.reads;
      for (let offset = Number(start); offset <= 2; offset++) {
        if (!onMessage(message(`job-${offset}`, offset), offset)) return 'stopped' as const;
        const failure = failures.get(n);
        if (failure !== undefined && offset === 1) throw failure;
      }
      return 'idle' as const;
    },
    async close() {},
  };
  return fake;
}

function readsOver(reader: StreamReader, retries: unknown[]) {
  return createHistoryReads({ reader, publisher: { publish: async () => undefined } as never, keys, exchange: 'warren.events', stream: 'warren.events.log', unsignedBefore: undefined, onReadRetry: (err) => retries.push(err) });
}

describe('history range reads', () => {
  it('a read whose channel closed halfway is read once more, and each event reaches the caller once', async () => {
    const reader = fakeReader(new Map([[1, new WarrenError('STREAM_READ_FAILED', 'the channel closed')]]));
    const retries: unknown[] = [];
    const got: PlacedEvent[] = [];
    await readsOver(reader, retries).readRange(0, 2, undefined, (p) => got.push(p));
    expect(reader.reads).toBe(2);
    expect(retries).toHaveLength(1);
    expect(got.map((p) => `${p.offset}:${p.event.jobId}`)).toEqual(['0:job-0', '1:job-1', '2:job-2']);
  });

  it('a second failure reaches the caller, with nothing delivered', async () => {
    const err = new WarrenError('STREAM_READ_FAILED', 'the channel closed again');
    const reader = fakeReader(new Map([[1, new WarrenError('STREAM_READ_FAILED', 'the channel closed')], [2, err]]));
    const got: PlacedEvent[] = [];
    await expect(readsOver(reader, []).readRange(0, 2, undefined, (p) => got.push(p))).rejects.toBe(err);
    expect(reader.reads).toBe(2);
    expect(got).toEqual([]);
  });

  it('a missing stream is not read again', async () => {
    const reader = fakeReader(new Map([[1, new StreamMissingError('warren.events.log')]]));
    const retries: unknown[] = [];
    await expect(readsOver(reader, retries).readRange(0, 2, undefined, () => undefined)).rejects.toBeInstanceOf(StreamMissingError);
    expect(reader.reads).toBe(1);
    expect(retries).toEqual([]);
  });
});
