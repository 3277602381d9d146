import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import { WarrenError } from '../errors/index.ts';
import type { Logger } from '../observability/logger.ts';
import { createAckBatcher } from './ack-batcher.ts';
import type { ChannelSession } from './delivery.ts';

/** Collaborators of {@link createConsumerChannelSession}. */
export interface ConsumerChannelSessionDeps {
  /** Consumer name, for messages. */
  consumer: string;
  /** The queue consumed. */
  queue: string;
  /** Unacked deliveries the broker may send this channel (`basic.qos`). */
  prefetch: number;
  /** Handlers the consumer runs at once (logged beside the prefetch). */
  concurrency: number;
  /** The reconnecting connection whose setup hook opens the channel. */
  connection: BrokerConnection;
  logger: Logger;
  /** Wait before re-opening a channel the broker closed while the connection stayed up. */
  reopenDelayMs: number;
  /** Each delivery, with the session it arrived on. */
  onDelivery(s: ChannelSession, msg: ConsumeMessage): void;
  /** Called once per session when its channel closes (or is replaced after a reconnect). */
  onClosed(s: ChannelSession): void;
}

/**
 * The consumer's channel: opened on every connect, consuming the queue with
 * the consumer's prefetch, re-opened after the broker closes it, and
 * re-subscribed after the broker cancels the consumer.
 */
export interface ConsumerChannelSession {
  /** Subscribes now (if connected) and after every reconnect; settles with the first attempt (rejects with `CONSUME_FAILED`). */
  start(): Promise<void>;
  /** The open session, if any. */
  current(): ChannelSession | undefined;
  /** True while a channel is open and its consumer subscribed. */
  consuming(): boolean;
  /** Opens nothing more and cancels the consumer, so the broker sends no more deliveries. */
  stop(): Promise<void>;
  /** After `stop`: writes pending acks and closes the channel that was open when it was called. */
  close(): Promise<void>;
}

/** Creates the session manager; nothing happens until `start()`. */
export function createConsumerChannelSession(deps: ConsumerChannelSessionDeps): ConsumerChannelSession {
  const { consumer: name, queue, prefetch, logger, reopenDelayMs } = deps;
  /** The open session and the connection that opened it (which tells a reconnect from a repeated setup call). */
  let opened: { session: ChannelSession; by: ChannelModel } | undefined;
  let opening = false;
  let stopped = false;
  let stoppedSession: ChannelSession | undefined;
  let unsubscribe: (() => void) | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  let first: { resolve: () => void; reject: (err: Error) => void } | undefined;

  async function open(conn: ChannelModel): Promise<void> {
    if (stopped || opening) return;
    if (opened?.session.open) {
      // A setup hook after a reconnect while the old channel has not reported its close yet.
      if (opened.by === conn) return;
      onClosed(opened.session);
    }
    opening = true;
    try {
      const channel = await conn.createChannel();
      const s: ChannelSession = {
        channel,
        open: true,
        consumerTag: undefined,
        acks: createAckBatcher(channel, { isOpen: () => s.open, onError: (err) => logger.warn({ err: err.message }, 'ack not written: channel closed') }),
      };
      channel.on('error', (err: Error) => logger.warn({ err: err.message }, 'consumer channel error'));
      channel.on('close', () => onClosed(s));
      await channel.prefetch(prefetch);
      opened = { session: s, by: conn };
      const ok = await channel.consume(queue, (msg) => (msg === null ? onCancelled(s) : deps.onDelivery(s, msg)), { noAck: false });
      s.consumerTag = ok.consumerTag;
      logger.info({ prefetch, concurrency: deps.concurrency }, 'consuming');
      first?.resolve();
      first = undefined;
    } catch (err) {
      const message = `can't consume queue '${queue}' for consumer '${name}': ${(err as Error).message} (does the queue exist? run warren topology apply)`;
      if (first) {
        first.reject(new WarrenError('CONSUME_FAILED', message, { cause: err }));
        first = undefined;
      } else {
        logger.error({ retryInMs: reopenDelayMs }, `${message}; trying again`);
        scheduleReopen();
      }
    } finally {
      opening = false;
    }
  }

  function scheduleReopen(): void {
    if (stopped || reopenTimer) return;
    reopenTimer = setTimeout(() => {
      reopenTimer = undefined;
      const conn = deps.connection.current();
      // Without a connection the onConnect hook re-subscribes after the reconnect.
      if (conn) void open(conn);
    }, reopenDelayMs);
    reopenTimer.unref();
  }

  function onClosed(s: ChannelSession): void {
    if (!s.open) return;
    s.open = false;
    if (opened?.session === s) opened = undefined;
    deps.onClosed(s);
    if (!stopped) scheduleReopen();
  }

  function onCancelled(s: ChannelSession): void {
    logger.warn(`the broker cancelled the consumer (queue '${queue}' deleted?); re-subscribing`);
    s.channel.close().catch(() => undefined);
  }

  return {
    start() {
      if (unsubscribe) return Promise.resolve();
      const started = new Promise<void>((resolve, reject) => {
        first = { resolve, reject };
      });
      unsubscribe = deps.connection.onConnect((conn) => open(conn));
      return started;
    },
    current: () => opened?.session,
    consuming: () => opened?.session.open === true && opened.session.consumerTag !== undefined,
    async stop() {
      stopped = true;
      unsubscribe?.();
      if (reopenTimer) clearTimeout(reopenTimer);
      const s = opened?.session;
      stoppedSession = s;
      if (s?.open && s.consumerTag !== undefined) {
        await s.channel.cancel(s.consumerTag).catch(() => undefined);
      }
    },
    async close() {
      const s = stoppedSession;
      if (s?.open) {
        s.acks.flush();
        await s.channel.close().catch(() => undefined);
      }
    },
  };
}
