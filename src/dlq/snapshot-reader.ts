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
 * runs), manual acks, and every message the caller doesn't ack stays unacked
 * until the end. Only messages the caller acks leave the queue. At the end the
 * consumer is cancelled and everything still unacked is returned with one
 * `basic.nack(requeue)` per message, in delivery order, before the channel
 * closes. Checked on 3.10: classic queues put returned messages back at their
 * original positions; quorum queues append them in the order of the nacks, so
 * their relative order is kept (dead letters that arrived during the run end
 * up ahead of them). Nacks go in chunks of 32 with a round trip in between on
 * purpose: a 3.10 quorum queue settles a batch of returns (one
 * `nack(multiple)`, coalesced single nacks, or a closing channel) in map order,
 * which is queue order only up to 32 entries. So after a crash (the broker
 * returns everything when the connection drops) nothing is lost, but a quorum
 * DLQ's order may shift.
 *
 * How many deliveries the broker pushes ahead (the consumer's prefetch): by
 * default the whole snapshot, so every message can stay unacked. With `credit`
 * (a requeue, which acks most of what it reads) it starts at `credit`: a broker
 * pushing a whole large quorum queue at once is several times slower than one
 * kept a thousand ahead. Messages the caller keeps use up that credit, so the
 * caller says which ones it keeps ({@link SnapshotReader.keep}); once they hold
 * all of it, the reader widens: it cancels the consumer (its deliveries stay
 * unacked on their channel) and consumes again, exclusively, on a new channel
 * with twice the prefetch. Should another consumer have attached in between,
 * the new consume is refused and the read stops with `DLQ_QUEUE_BUSY`; the
 * kept messages are still on their own channels and go back in order. A caller
 * that keeps messages without saying so is not widened for: its read ends
 * after `maxIdleMs` with the rest unread, in place.
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
  /** The caller leaves this delivery in the queue (unacked until close): it no longer counts on getting credit back for it. */
  keep(message: ConsumeMessage): void;
  /** Acks one delivery; false when the channel is gone (the message stays in the queue). */
  ack(message: ConsumeMessage): boolean;
  /**
   * Acks these deliveries: one `basic.ack(multiple)` for those that are the oldest
   * unacked ones (nothing the caller keeps lies among them), single acks for the rest.
   * False when the channel is gone (none is acked; the messages stay in the queue).
   */
  ackAll(messages: readonly ConsumeMessage[]): boolean;
  /** A round trip on the consuming channel(s): resolves once the broker processed every ack sent before. */
  sync(): Promise<void>;
  /** The error that closed a channel, if one closed under us. */
  lostWith(): Error | undefined;
  /** Cancels the consumer, nacks (requeue) everything unacked in order, closes the channel(s). */
  close(): Promise<void>;
}

/** Options of {@link openSnapshotReader}. */
export interface SnapshotReaderOptions {
  connection: ChannelModel;
  queue: string;
  /** Stop after this many messages even if more were present. @default MAX_WINDOW */
  maxMessages?: number;
  /**
   * Deliveries the broker pushes ahead at first; widened as the caller keeps messages (see
   * {@link SnapshotReader}). @default the snapshot (every message may stay unacked; `keep` is then not needed)
   */
  credit?: number;
  /**
   * End the snapshot early when no delivery arrives for this long and the queue has no ready
   * message left (messages expired meanwhile). @default 2000
   */
  idleMs?: number;
  /** End it anyway after this long without a delivery. @default 30000 */
  maxIdleMs?: number;
}

/** One consumer's channel: the deliveries it holds stay on it until acked or returned. */
interface Reading {
  channel: Channel;
  consumerTag: string | undefined;
  prefetch: number;
  /** Deliveries on this channel not acked yet, in delivery order (only the tag is kept). */
  unacked: Map<number, ConsumeMessage>;
  /** Of those, the ones the caller keeps. */
  kept: number;
  closed: boolean;
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
  let closeError: Error | undefined;
  let expectedClose = false;
  /** Why reading stopped although every channel is fine (the consumer could not be widened). */
  let stopped: DlqError | undefined;
  // Declared before the channel's handlers: a channel closed early (a busy queue, a missing queue)
  // calls wake() from its 'close' event, and a throw there would take the whole connection down.
  let waiter: (() => void) | undefined;
  function wake(): void {
    const w = waiter;
    waiter = undefined;
    w?.();
  }
  function attach(reading: Reading): void {
    reading.channel.on('error', (err: Error) => {
      closeError = err;
    });
    reading.channel.on('close', () => {
      reading.closed = true;
      if (!expectedClose && closeError === undefined) closeError = new Error('channel closed');
      wake();
    });
  }
  const first: Reading = { channel: await openChannel(connection), consumerTag: undefined, prefetch: 0, unacked: new Map(), kept: 0, closed: false };
  attach(first);
  /** Every channel of this read, oldest first; the last one has the consumer. */
  const readings: Reading[] = [first];
  let current = first;
  const anyClosed = () => readings.some((r) => r.closed);
  const lost = () => anyClosed() || closeError !== undefined;

  let total: number;
  let consumers: number;
  try {
    const ok = await first.channel.checkQueue(queue);
    total = ok.messageCount;
    consumers = ok.consumerCount;
  } catch (err) {
    const msg = (err as Error).message;
    if (/NOT_FOUND/.test(msg)) throw new DlqError('DLQ_QUEUE_NOT_FOUND', `queue '${queue}' does not exist`, { cause: err });
    throw new DlqError('DLQ_CONNECTION_LOST', `could not read queue '${queue}': ${msg}`, { cause: err });
  }
  if (consumers > 0) {
    expectedClose = true;
    await first.channel.close().catch(() => undefined);
    throw new DlqError(
      'DLQ_QUEUE_BUSY',
      `queue '${queue}' has ${consumers} consumer${consumers === 1 ? '' : 's'}; warren dlq reads with an exclusive consumer so it never reorders messages for someone else. Stop the other consumer(s) and try again.`,
    );
  }
  const snapshot = Math.min(total, options.maxMessages ?? MAX_WINDOW, MAX_WINDOW);

  // Deliveries not handed out yet: a queue read from `head` (Array#shift copies a large array on every call).
  let buffer: ConsumeMessage[] = [];
  let head = 0;
  /** The reading of each consumer (a delivery's tag means something on its own channel only). */
  const byConsumer = new Map<string, Reading>();
  const readingOf = (message: ConsumeMessage) => byConsumer.get(message.fields.consumerTag);
  let received = 0;
  let handed = 0;
  /** Time next() has waited without a delivery. */
  let idleFor = 0;

  /** Starts the exclusive consumer of `reading`; the caller handles a refusal. */
  async function consume(reading: Reading, prefetch: number): Promise<void> {
    reading.prefetch = prefetch;
    await reading.channel.prefetch(prefetch);
    const ok = await reading.channel.consume(
      queue,
      (msg) => {
        if (msg === null) {
          // Cancelled by the broker (queue deleted).
          closeError ??= new Error(`queue '${queue}' was deleted`);
          wake();
          return;
        }
        received++;
        reading.unacked.set(msg.fields.deliveryTag, { fields: { deliveryTag: msg.fields.deliveryTag } } as ConsumeMessage);
        // Deliveries past the snapshot stay unacked and untouched: returned on close.
        if (received <= snapshot) buffer.push(msg);
        wake();
      },
      { noAck: false, exclusive: true },
    );
    reading.consumerTag = ok.consumerTag;
    byConsumer.set(ok.consumerTag, reading);
  }

  function consumeError(err: unknown): DlqError {
    const msg = (err as Error).message;
    if (/ACCESS_REFUSED|exclusive/i.test(msg)) {
      return new DlqError('DLQ_QUEUE_BUSY', `queue '${queue}' is being read by another consumer (${msg}); try again when it is done`, { cause: err });
    }
    return new DlqError('DLQ_CONNECTION_LOST', `could not consume from '${queue}': ${msg}`, { cause: err });
  }

  if (snapshot > 0) {
    try {
      await consume(first, Math.max(1, Math.min(snapshot, options.credit ?? snapshot)));
    } catch (err) {
      throw consumeError(err);
    }
  }

  /** Kept messages took half the credit: consume again, on a new channel, with twice the prefetch. */
  async function widen(to = current.prefetch * 2): Promise<void> {
    const old = current;
    const prefetch = Math.max(1, Math.min(MAX_WINDOW, to));
    if (old.consumerTag !== undefined) await old.channel.cancel(old.consumerTag);
    old.consumerTag = undefined;
    const next: Reading = { channel: await openChannel(connection), consumerTag: undefined, prefetch: 0, unacked: new Map(), kept: 0, closed: false };
    // A refused consume closes its own channel only: that one is expected to go.
    next.channel.on('error', () => undefined);
    try {
      await consume(next, prefetch);
    } catch (err) {
      const busy = consumeError(err);
      stopped =
        busy.code === 'DLQ_QUEUE_BUSY'
          ? new DlqError('DLQ_QUEUE_BUSY', `another consumer attached to '${queue}' while warren was reading it (${(err as Error).message}); the messages warren holds go back in order`, { cause: err })
          : busy;
      return;
    }
    readings.push(next);
    next.channel.removeAllListeners('error');
    attach(next);
    current = next;
  }

  // Only when the consumer's whole prefetch is held by messages the caller keeps: the broker can then have
  // no delivery for it on the way and no ack of ours to free credit, so cancelling it drops nothing
  // (a delivery that met the cancel would go back to the queue and come again out of order).
  const needsWidening = () =>
    options.credit !== undefined && current.prefetch < snapshot && current.consumerTag !== undefined && current.unacked.size >= current.prefetch && current.kept >= current.unacked.size;

  /** Resolves true on the next delivery (or a channel event), false after `ms` without one. */
  function delivery(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        waiter = undefined;
        resolve(false);
      }, ms);
      waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /**
   * A run that stopped early (limit, Ctrl-C, an error) leaves snapshot messages it never received at
   * the head of the queue, and a quorum queue puts returned messages at the back: the kept ones would
   * end up behind them. So the rest of the snapshot comes into our hands first, to go back in order.
   */
  async function takeRest(): Promise<void> {
    const until = Date.now() + maxIdleMs;
    while (received < snapshot && !lost() && !stopped && Date.now() < until) {
      // Full credit and nothing acked meanwhile: nothing is on its way, so the cancel drops nothing.
      if (current.consumerTag !== undefined && current.unacked.size >= current.prefetch) {
        await widen(snapshot - received);
        continue;
      }
      if (!(await delivery(idleMs)) && (await current.channel.checkQueue(queue)).messageCount === 0) return;
    }
  }

  async function returnAll(): Promise<void> {
    // nack-requeue is not a failed delivery (RabbitMQ 4.3+ doesn't count it toward a delivery limit).
    const pending: Array<{ reading: Reading; stub: ConsumeMessage }> = [];
    for (const reading of readings) {
      for (const stub of reading.unacked.values()) pending.push({ reading, stub });
      reading.unacked.clear();
    }
    // The channel coalesces consecutive nacks into one settle command and a 3.10 quorum
    // queue applies that as a map: ordered up to 32 entries (Erlang flatmap), unordered
    // beyond. So: at most 32 nacks, then a barrier, then the next 32. A round trip alone is
    // not enough on a busy broker: the queue's client also merges returns that wait behind
    // one it hasn't applied yet. So the barrier is "these 32 are ready again" (a quorum
    // queue counts a return once it applied it), bounded in case someone else consumes.
    // Each channel settles through its own consumer: a chunk never spans two channels, or the
    // broker may apply the second channel's returns first.
    const probe = current.channel;
    const ready = (await probe.checkQueue(queue)).messageCount;
    const until = Date.now() + Math.min(30_000, 3_000 + pending.length * 2);
    let returned = 0;
    for (let i = 0; i < pending.length; ) {
      const reading = (pending[i] as { reading: Reading }).reading;
      let end = i + 1;
      while (end < pending.length && end - i < 32 && (pending[end] as { reading: Reading }).reading === reading) end++;
      for (let j = i; j < end; j++) reading.channel.nack((pending[j] as { stub: ConsumeMessage }).stub, false, true);
      returned += end - i;
      i = end;
      // Also what lets a run started right after this one see them all in its snapshot.
      while ((await probe.checkQueue(queue)).messageCount < ready + returned && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    if (pending.length === 0) await probe.checkQueue(queue);
  }

  return {
    snapshot,
    total,
    async next() {
      for (;;) {
        if (handed >= snapshot) return undefined;
        // Stop at once when a channel is gone: buffered messages can no longer be acked.
        if (lost()) {
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
        if (stopped) throw stopped;
        if (needsWidening()) {
          try {
            await widen();
          } catch (err) {
            throw new DlqError('DLQ_CONNECTION_LOST', `could not widen the read of '${queue}': ${(err as Error).message}`, { cause: err });
          }
          continue;
        }
        const arrived = await delivery(idleMs);
        if (!arrived && head === buffer.length && !lost()) {
          // A busy broker can take seconds to start delivering a large quorum queue: give up only
          // when nothing is left to deliver (expired, purged) or after maxIdleMs of silence.
          idleFor += idleMs;
          if (idleFor >= maxIdleMs) return undefined;
          const ready = await current.channel.checkQueue(queue).then((ok) => ok.messageCount, () => 0);
          if (ready === 0 && head === buffer.length) return undefined;
        } else {
          idleFor = 0;
        }
      }
    },
    keep(message) {
      const reading = readingOf(message);
      if (reading) reading.kept++;
    },
    ack(message) {
      const reading = readingOf(message);
      if (!reading || reading.closed) return false;
      try {
        reading.channel.ack(message);
        reading.unacked.delete(message.fields.deliveryTag);
        return true;
      } catch {
        return false;
      }
    },
    ackAll(messages) {
      if (anyClosed()) return false;
      try {
        // Per channel: the oldest unacked deliveries, as long as each is one of these, take one
        // `multiple` ack. A delivery the caller keeps (skipped, failed, in flight) ends the run.
        const byReading = new Map<Reading, Set<number>>();
        for (const m of messages) {
          const reading = readingOf(m);
          if (!reading) continue;
          let tags = byReading.get(reading);
          if (!tags) byReading.set(reading, (tags = new Set()));
          tags.add(m.fields.deliveryTag);
        }
        for (const [reading, tags] of byReading) {
          let last: ConsumeMessage | undefined;
          for (const [tag, stub] of reading.unacked) {
            if (!tags.has(tag)) break;
            last = stub;
            tags.delete(tag);
            reading.unacked.delete(tag);
          }
          if (last) reading.channel.ack(last, true);
          for (const tag of tags) {
            const stub = reading.unacked.get(tag);
            if (!stub) continue;
            reading.channel.ack(stub);
            reading.unacked.delete(tag);
          }
        }
        return true;
      } catch {
        return false;
      }
    },
    async sync() {
      if (anyClosed()) throw new DlqError('DLQ_CONNECTION_LOST', `lost the channel reading '${queue}'`, { cause: closeError });
      // Acks go to the channel of their delivery: one round trip on each proves them all.
      await Promise.all(readings.map((r) => r.channel.checkQueue(queue)));
    },
    lostWith: () => (expectedClose ? undefined : lost() ? (closeError ?? new Error('channel closed')) : undefined),
    async close() {
      if (expectedClose) return;
      const broken = anyClosed();
      expectedClose = true;
      try {
        // With a channel gone the order is lost already: closing the others returns their messages.
        if (!broken) {
          await takeRest();
          if (current.consumerTag !== undefined) await current.channel.cancel(current.consumerTag);
          await returnAll();
        }
        for (const reading of readings) if (!reading.closed) await reading.channel.close();
      } catch {
        // A channel died on its way down: the broker returns the unacked messages all the same.
      }
    },
  };
}
