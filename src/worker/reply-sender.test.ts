import type { Channel, ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import { decodeReplies, MAX_REPLY_BATCH_ITEMS, type ReplyMessage } from '../jobs/reply-messages.ts';
import { createLogger } from '../observability/logger.ts';
import { createReplySender } from './reply-sender.ts';

interface Published {
  queue: string;
  replies: ReplyMessage[];
}

/** A connection whose channel records publishes (`full`: the channel's write buffer is full). */
async function setup(opts: { full?: boolean } = {}) {
  const published: Published[] = [];
  const channel = {
    on: () => channel,
    publish: (_exchange: string, queue: string, content: Buffer) => {
      published.push({ queue, replies: decodeReplies(content) });
      return opts.full !== true;
    },
    close: async () => undefined,
  } as unknown as Channel;
  let setupFn: ((c: ChannelModel) => void | Promise<void>) | undefined;
  const connection = {
    onConnect: (fn: (c: ChannelModel) => void | Promise<void>) => {
      setupFn = fn;
      return () => undefined;
    },
  } as unknown as BrokerConnection;
  const sender = createReplySender({ connection, logger: createLogger({ level: 'silent' }) });
  await setupFn?.({ createChannel: async () => channel } as unknown as ChannelModel);
  return { sender, published };
}

const chunk = (jobId: string, seq: number): ReplyMessage => ({ kind: 'chunk', jobId, run: 'r', attempt: 1, seq, chunk: { n: seq } });
const nextTurn = () => new Promise<void>((r) => setImmediate(r));
const Q1 = 'warren.reply.api-1';
const Q2 = 'warren.reply.api-2';

describe('reply sender', () => {
  it('publishes the first reply to a queue in a turn at once, without waiting for a batch', async () => {
    const { sender, published } = await setup();
    expect(sender.send(Q1, chunk('a', 0))).toBe(true);
    expect(published).toEqual([{ queue: Q1, replies: [chunk('a', 0)] }]);
    await nextTurn();
    expect(sender.send(Q1, chunk('a', 1))).toBe(true);
    // A new turn: again at once.
    expect(published).toHaveLength(2);
  });

  it("sends the rest of a turn's replies to one queue as one message at the end of the turn, in order", async () => {
    const { sender, published } = await setup();
    sender.send(Q1, chunk('a', 0));
    sender.send(Q1, chunk('b', 0));
    sender.send(Q2, chunk('c', 0));
    sender.send(Q1, chunk('a', 1));
    sender.send(Q2, chunk('c', 1));
    expect(published.map((p) => p.queue)).toEqual([Q1, Q2]);
    await nextTurn();
    expect(published).toEqual([
      { queue: Q1, replies: [chunk('a', 0)] },
      { queue: Q2, replies: [chunk('c', 0)] },
      { queue: Q1, replies: [chunk('b', 0), chunk('a', 1)] },
      { queue: Q2, replies: [chunk('c', 1)] },
    ]);
    expect(sender.counts()).toEqual({ sent: 5, dropped: 0, messages: 4 });
  });

  it('sends a full batch at once', async () => {
    const { sender, published } = await setup();
    sender.send(Q1, chunk('a', 0));
    for (let i = 1; i <= MAX_REPLY_BATCH_ITEMS; i++) sender.send(Q1, chunk('a', i));
    expect(published).toHaveLength(2);
    expect(published[1]?.replies.map((r) => r.seq)).toEqual(Array.from({ length: MAX_REPLY_BATCH_ITEMS }, (_, i) => i + 1));
  });

  it('flushes what waits for the turn when it closes', async () => {
    const { sender, published } = await setup();
    sender.send(Q1, chunk('a', 0));
    sender.send(Q1, { kind: 'done', jobId: 'a', run: 'r', attempt: 1, seq: 1, result: null });
    await sender.close();
    expect(published.map((p) => p.replies.map((r) => r.kind))).toEqual([['chunk'], ['done']]);
  });

  it('drops and counts replies while the channel is full, and never sends to a queue that is not a reply queue', async () => {
    const { sender, published } = await setup({ full: true });
    expect(sender.send(Q1, chunk('a', 0))).toBe(true);
    expect(sender.send(Q1, chunk('a', 1))).toBe(false);
    expect(sender.send('llm.standard', chunk('a', 2))).toBe(false);
    await nextTurn();
    expect(published).toHaveLength(1);
    expect(sender.counts()).toEqual({ sent: 1, dropped: 2, messages: 1 });
  });
});
