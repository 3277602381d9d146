import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { HEADERS } from '../../jobs/headers.ts';
import type { Logger } from '../../observability/logger.ts';
import { INDEX_MARKER_TYPE, decodeJobEvents } from './job-event-codec.ts';
import type { JobStatusIndex } from './job-status-index.ts';

/** Reads the job-events stream into the status index, from the first retained event on boot. */
export interface JobEventsTailer {
  /** Offset of the last event read (undefined before the first). */
  lastOffset(): number | undefined;
  /** Events applied since start (tests, diagnostics). */
  applied(): number;
  close(): Promise<void>;
}

/** Options of {@link createJobEventsTailer}. */
export interface JobEventsTailerOptions {
  connection: BrokerConnection;
  /** Publishes this replica's catch-up marker to the job-events exchange. */
  publisher: Pick<ConfirmPublisher, 'publish'>;
  index: JobStatusIndex;
  /** Job-events fanout exchange (topology `jobEvents.exchange`). */
  exchange: string;
  /** Job-events stream queue (topology `jobEvents.stream`). */
  stream: string;
  logger: Logger;
  /** Unacked messages the broker may push (streams require a prefetch). @default 1000 */
  prefetch?: number;
  /** Delay before trying again when the stream is missing or the channel failed. @default 2000 */
  retryMs?: number;
  /**
   * This API process's id (the job-event batcher's `replicaId`). Messages
   * carrying it were written by this process after it applied their events to
   * the index itself, so they are not decoded and applied a second time. A new
   * process has a new id: on boot every message is replayed.
   */
  replicaId?: string;
}

/**
 * Tails the stream with `x-stream-offset: first` on boot and resumes after the
 * last offset read on every reconnect, so a replica converges to the same
 * index as every other replica. To know when the boot replay is done, the
 * replica appends a marker message and reports caught up when it reads it back:
 * everything before the marker was in the stream when the replica started.
 */
export function createJobEventsTailer(options: JobEventsTailerOptions): JobEventsTailer {
  const prefetch = options.prefetch ?? 1000;
  const retryMs = options.retryMs ?? 2_000;
  const markerId = randomUUID();
  const log = options.logger;
  let last: number | undefined;
  let applied = 0;
  let closed = false;
  let channel: Channel | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let markerPublished = false;
  let markerRunning = false;
  let warnedMissing = false;

  function scheduleRetry(): void {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      const conn = options.connection.current();
      if (conn && !channel) subscribe(conn).catch(() => undefined);
    }, retryMs);
  }

  async function publishMarker(): Promise<void> {
    if (markerPublished || markerRunning || closed) return;
    markerRunning = true;
    try {
      while (!closed && !markerPublished) {
        try {
          await options.publisher.publish({
            exchange: options.exchange,
            routingKey: '',
            content: Buffer.from(JSON.stringify({ marker: markerId, at: new Date().toISOString() })),
            properties: { contentType: 'application/json', type: INDEX_MARKER_TYPE, messageId: markerId },
          });
          markerPublished = true;
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not append the status index marker; retrying');
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    } finally {
      markerRunning = false;
    }
  }

  async function subscribe(conn: ChannelModel): Promise<void> {
    if (closed || channel) return;
    let ch: Channel;
    try {
      ch = await conn.createChannel();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not open the job-events channel; retrying');
      scheduleRetry();
      return;
    }
    channel = ch;
    let pendingAck: ConsumeMessage | undefined;
    let unacked = 0;
    let ackScheduled = false;
    const ackNow = () => {
      ackScheduled = false;
      if (pendingAck === undefined || channel !== ch) return;
      try {
        ch.ack(pendingAck, true);
      } catch {
        // Channel already closed; the next subscription starts after `last` anyway.
      }
      pendingAck = undefined;
      unacked = 0;
    };
    ch.on('error', (err: Error) => {
      if (/NOT_FOUND/.test(err.message)) {
        if (!warnedMissing) log.warn({ stream: options.stream }, 'job-events stream does not exist yet (topology not applied?); retrying');
        warnedMissing = true;
      } else {
        log.warn({ err: err.message }, 'job-events channel error');
      }
    });
    ch.on('close', () => {
      if (channel === ch) channel = undefined;
      // A channel-level failure leaves the connection up: try again. After a disconnect, onConnect resubscribes.
      if (options.connection.current() === conn) scheduleRetry();
    });
    try {
      await ch.prefetch(prefetch);
      const offset = last === undefined ? 'first' : last + 1;
      await ch.consume(
        options.stream,
        (msg) => {
          if (msg === null) {
            // Cancelled by the broker (stream deleted): subscribe again later.
            ch.close().catch(() => undefined);
            return;
          }
          const off = msg.properties.headers?.['x-stream-offset'];
          if (typeof off === 'number') last = off;
          if (msg.properties.type === INDEX_MARKER_TYPE) {
            if (msg.properties.messageId === markerId && !options.index.isCaughtUp()) {
              options.index.markCaughtUp();
              log.info({ jobs: options.index.size(), events: applied }, 'status index caught up with the job-events stream');
            }
          } else if (options.replicaId === undefined || msg.properties.headers?.[HEADERS.replica] !== options.replicaId) {
            const { events } = decodeJobEvents(msg.content);
            for (const e of events) options.index.apply(e);
            applied += events.length;
          }
          pendingAck = msg;
          unacked++;
          // Streams only need acks as credit: one cumulative ack per batch or per tick.
          if (unacked >= prefetch / 2) ackNow();
          else if (!ackScheduled) {
            ackScheduled = true;
            setImmediate(ackNow);
          }
        },
        { noAck: false, arguments: { 'x-stream-offset': offset } },
      );
      warnedMissing = false;
      log.debug({ stream: options.stream, offset }, 'tailing job-events stream');
      if (!options.index.isCaughtUp()) void publishMarker();
    } catch (err) {
      if (channel === ch) channel = undefined;
      if (!/NOT_FOUND/.test((err as Error).message)) log.warn({ err: (err as Error).message }, 'could not tail the job-events stream; retrying');
      ch.close().catch(() => undefined);
      scheduleRetry();
    }
  }

  const unsubscribe = options.connection.onConnect((conn) => {
    channel = undefined;
    return subscribe(conn);
  });

  return {
    lastOffset: () => last,
    applied: () => applied,
    async close() {
      closed = true;
      unsubscribe();
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      const ch = channel;
      channel = undefined;
      if (ch) await ch.close().catch(() => undefined);
    },
  };
}
