import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { DlqError } from './dlq-error.ts';

/** The most unacked deliveries one consumer can hold (basic.qos prefetch_count is 16 bits). */
export const MAX_WINDOW = 65_535;

/**
 * Reads the messages a queue holds at the start, in queue order, without
 * changing the queue unless told to.
 *
 * How it keeps order for everyone else: one **exclusive** consumer (the broker
 * refuses it while another consumer is attached, and refuses others while it
 * runs), manual acks, and a prefetch as large as the snapshot so every message
 * can stay unacked until the end. Only messages the caller acks leave the
 * queue. At the end the consumer is cancelled and everything still unacked is
 * returned with one `basic.nack(requeue)` per message, in delivery order,
 * before the channel closes. Checked on 3.10: classic queues put returned
 * messages back at their original positions; quorum queues append them in the
 * order of the nacks, so their relative order is kept (dead letters that
 * arrived during the run end up ahead of them). Nacks go in chunks of 32 with
 * a round trip in between on purpose: a 3.10 quorum queue settles a batch of
 * returns (one `nack(multiple)`, coalesced single nacks, or a closing channel)
 * in map order, which is queue order only up to 32 entries. So after a crash (the broker returns everything
 * when the connection drops) nothing is lost, but a quorum DLQ's order may shift.
 *
 * Only the first `snapshot` deliveries (the ready count at start) are handed
 * out, so a run ends even when messages keep arriving (e.g. a requeued job that
 * fails again); later arrivals are left untouched.
 */
export interface SnapshotReader {
  /** Ready messages when the reader started (capped at {@link MAX_WINDOW}). */
  readonly snapshot: number;
  /** Ready messages at start, uncapped. */
  readonly total: number;
  /** Next delivery in queue order, or undefined when the snapshot is done (or nothing arrives for `idleMs` and the queue has none left to deliver). */
  next(): Promise<ConsumeMessage | undefined>;
  /** Acks one delivery; false when the channel is gone (the message stays in the queue). */
  ack(message: ConsumeMessage): boolean;
  /**
   * Acks these deliveries: one `basic.ack(multiple)` for those that are the oldest
   * unacked ones (nothing the caller keeps lies among them), single acks for the rest.
   * False when the channel is gone (none is acked; the messages stay in the queue).
   */
  ackAll(messages: readonly ConsumeMessage[]): boolean;
  /** A round trip on the consuming channel: resolves once the broker processed every ack sent before. */
  sync(): Promise<void>;
  /** The error that closed the channel, if it closed under us. */
  lostWith(): Error | undefined;
  /** Cancels the consumer, nacks (requeue) everything unacked in order, closes the channel. */
  close(): Promise<void>;
}

/** Options of {@link openSnapshotReader}. */
export interface SnapshotReaderOptions {
  connection: ChannelModel;
  queue: string;
  /** Stop after this many messages even if more were present. @default MAX_WINDOW */
  maxMessages?: number;
  /**
   * End the snapshot early when no delivery arrives for this long and the queue has no ready
   * message left (messages expired meanwhile). @default 2000
   */
  idleMs?: number;
  /** End it anyway after this long without a delivery. @default 30000 */
  maxIdleMs?: number;
}

async function openChannel(connection: ChannelModel): Promise<Channel> {
  try {
    return await connection.createChannel();
  } catch (err) {
    throw new DlqError('DLQ_CONNECTION_LOST', `could not open a channel: ${(err as Error).message}`, { cause: err });
  }
}

/** Opens the exclusive consumer and takes the snapshot count. */
export async function openSnapshotReader(options: SnapshotReaderOptions): Promise<SnapshotReader> {
  const { connection, queue } = options;
  const idleMs = options.idleMs ?? 2_000;
  const maxIdleMs = options.maxIdleMs ?? 30_000;
  let channel = await openChannel(connection);
  let closeError: Error | undefined;
  let closed = false;
  let expectedClose = false;
  // Declared before the channel's handlers: a channel closed early (a busy queue, a missing queue)
  // calls wake() from its 'close' event, and a throw there would take the whole connection down.
  let waiter: (() => void) | undefined;
  function wake(): void {
    const w = waiter;
    waiter = undefined;
    w?.();
  }
  const attach = (ch: Channel) => {
    ch.on('error', (err: Error) => {
      closeError = err;
    });
    ch.on('close', () => {
      closed = true;
      if (!expectedClose && closeError === undefined) closeError = new Error('channel closed');
      wake();
    });
  };
  attach(channel);

  let total: number;
  let consumers: number;
  try {
    const ok = await channel.checkQueue(queue);
    total = ok.messageCount;
    consumers = ok.consumerCount;
  } catch (err) {
    const msg = (err as Error).message;
    if (/NOT_FOUND/.test(msg)) throw new DlqError('DLQ_QUEUE_NOT_FOUND', `queue '${queue}' does not exist`, { cause: err });
    throw new DlqError('DLQ_CONNECTION_LOST', `could not read queue '${queue}': ${msg}`, { cause: err });
  }
  if (consumers > 0) {
    expectedClose = true;
    await channel.close().catch(() => undefined);
    throw new DlqError(
      'DLQ_QUEUE_BUSY',
      `queue '${queue}' has ${consumers} consumer${consumers === 1 ? '' : 's'}; warren dlq reads with an exclusive consumer so it never reorders messages for someone else. Stop the other consumer(s) and try again.`,
    );
  }
  const snapshot = Math.min(total, options.maxMessages ?? MAX_WINDOW, MAX_WINDOW);

  // Deliveries not handed out yet: a queue read from `head` (Array#shift copies a large array on every call).
  let buffer: ConsumeMessage[] = [];
  let head = 0;
  /** Every delivery not acked yet, in delivery order (only the tag is kept). */
  const unacked = new Map<number, ConsumeMessage>();
  let received = 0;
  let handed = 0;
  /** Time next() has waited without a delivery. */
  let idleFor = 0;

  let consumerTag: string | undefined;
  if (snapshot > 0) {
    try {
      await channel.prefetch(snapshot);
      const ok = await channel.consume(
        queue,
        (msg) => {
          if (msg === null) {
            // Cancelled by the broker (queue deleted).
            closeError ??= new Error(`queue '${queue}' was deleted`);
            wake();
            return;
          }
          received++;
          unacked.set(msg.fields.deliveryTag, { fields: { deliveryTag: msg.fields.deliveryTag } } as ConsumeMessage);
          // Deliveries past the snapshot stay unacked and untouched: returned on close.
          if (received <= snapshot) buffer.push(msg);
          wake();
        },
        { noAck: false, exclusive: true },
      );
      consumerTag = ok.consumerTag;
    } catch (err) {
      const msg = (err as Error).message;
      if (/ACCESS_REFUSED|exclusive/i.test(msg)) {
        throw new DlqError('DLQ_QUEUE_BUSY', `queue '${queue}' is being read by another consumer (${msg}); try again when it is done`, { cause: err });
      }
      throw new DlqError('DLQ_CONNECTION_LOST', `could not consume from '${queue}': ${msg}`, { cause: err });
    }
  }

  return {
    snapshot,
    total,
    async next() {
      for (;;) {
        if (handed >= snapshot) return undefined;
        // Stop at once when the channel is gone: buffered messages can no longer be acked.
        if (closed || closeError) {
          throw new DlqError('DLQ_CONNECTION_LOST', `lost the channel reading '${queue}' after ${handed} of ${snapshot} messages: ${closeError?.message ?? 'closed'}`, { cause: closeError });
        }
        if (head < buffer.length) {
          const msg = buffer[head] as ConsumeMessage;
          buffer[head++] = undefined as never;
          if (head === buffer.length) {
            buffer = [];
            head = 0;
          } else if (head >= 4096 && head * 2 >= buffer.length) {
            buffer = buffer.slice(head);
            head = 0;
          }
          handed++;
          return msg;
        }
        const arrived = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            waiter = undefined;
            resolve(false);
          }, idleMs);
          waiter = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        if (!arrived && head === buffer.length && !closed) {
          // A busy broker can take seconds to start delivering a large quorum queue: give up only
          // when nothing is left to deliver (expired, purged) or after maxIdleMs of silence.
          idleFor += idleMs;
          if (idleFor >= maxIdleMs) return undefined;
          const ready = await channel.checkQueue(queue).then((ok) => ok.messageCount, () => 0);
          if (ready === 0 && head === buffer.length) return undefined;
        } else {
          idleFor = 0;
        }
      }
    },
    ack(message) {
      if (closed) return false;
      try {
        channel.ack(message);
        unacked.delete(message.fields.deliveryTag);
        return true;
      } catch {
        return false;
      }
    },
    ackAll(messages) {
      if (closed) return false;
      try {
        const tags = new Set<number>();
        for (const m of messages) tags.add(m.fields.deliveryTag);
        // The oldest unacked deliveries, as long as each is one of these: `multiple` acks exactly
        // them. A delivery the caller keeps (skipped, failed, in flight) ends the run.
        let last: ConsumeMessage | undefined;
        for (const [tag, stub] of unacked) {
          if (!tags.has(tag)) break;
          last = stub;
          tags.delete(tag);
          unacked.delete(tag);
        }
        if (last) channel.ack(last, true);
        for (const tag of tags) {
          const stub = unacked.get(tag);
          if (!stub) continue;
          channel.ack(stub);
          unacked.delete(tag);
        }
        return true;
      } catch {
        return false;
      }
    },
    async sync() {
      if (closed) throw new DlqError('DLQ_CONNECTION_LOST', `lost the channel reading '${queue}'`, { cause: closeError });
      await channel.checkQueue(queue);
    },
    lostWith: () => (expectedClose ? undefined : closeError),
    async close() {
      if (closed) return;
      expectedClose = true;
      try {
        if (consumerTag !== undefined) await channel.cancel(consumerTag);
        // nack-requeue is not a failed delivery (RabbitMQ 4.3+ doesn't count it toward a delivery limit).
        const returned = unacked.size;
        const pending = [...unacked.values()];
        unacked.clear();
        // The channel coalesces consecutive nacks into one settle command and a 3.10 quorum
        // queue applies that as a map: ordered up to 32 entries (Erlang flatmap), unordered
        // beyond. So: at most 32 nacks, then a barrier, then the next 32. A round trip alone is
        // not enough on a busy broker: the queue's client also merges returns that wait behind
        // one it hasn't applied yet. So the barrier is "these 32 are ready again" (a quorum
        // queue counts a return once it applied it), bounded in case someone else consumes.
        const ready = (await channel.checkQueue(queue)).messageCount;
        const until = Date.now() + Math.min(30_000, 3_000 + pending.length * 2);
        for (let i = 0; i < pending.length; i += 32) {
          const chunk = pending.slice(i, i + 32);
          for (const m of chunk) channel.nack(m, false, true);
          // Also what lets a run started right after this one see them all in its snapshot.
          while ((await channel.checkQueue(queue)).messageCount < ready + i + chunk.length && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        if (returned === 0) await channel.checkQueue(queue);
        await channel.close();
      } catch {
        // The channel died on its way down: the broker returns the unacked messages all the same.
      }
      channel = undefined as never;
    },
  };
}
