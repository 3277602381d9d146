import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { Logger } from '../../observability/logger.ts';
import { streamOffsetOf, type StreamStart } from './stream-reader.ts';

/** Follows a stream for as long as it runs: resumes after the last offset on reconnects, starts over when the stream is recreated. */
export interface StreamFollower {
  /** False while the stream is missing (deleted, or never declared). */
  isAttached(): boolean;
  close(): Promise<void>;
}

/** Options of {@link createStreamFollower}. */
export interface StreamFollowerOptions {
  connection: BrokerConnection;
  stream: string;
  /** Where to start on the first attach, and after the stream was recreated. */
  start: () => StreamStart;
  onMessage: (msg: ConsumeMessage, offset: number) => void;
  /** The stream disappeared (consumer cancelled by the broker, or NOT_FOUND). */
  onMissing?: () => void;
  /** Attached; `fresh` after the stream was missing (a new stream: offsets start again). */
  onAttached?: (fresh: boolean) => void;
  logger: Logger;
  /** @default 256 */
  prefetch?: number;
  /** @default 2000 */
  retryMs?: number;
}

/** Creates the follower; it attaches on every (re)connect. */
export function createStreamFollower(options: StreamFollowerOptions): StreamFollower {
  const prefetch = options.prefetch ?? 256;
  const retryMs = options.retryMs ?? 2_000;
  let last: number | undefined;
  let channel: Channel | undefined;
  let closed = false;
  let attached = false;
  let missing = false;
  let timer: NodeJS.Timeout | undefined;

  function lost(): void {
    attached = false;
    if (!missing) {
      missing = true;
      last = undefined;
      options.onMissing?.();
    }
  }

  function retry(): void {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      const conn = options.connection.current();
      if (conn && !channel) void attach(conn);
    }, retryMs);
    timer.unref();
  }

  async function attach(conn: ChannelModel): Promise<void> {
    if (closed || channel) return;
    let ch: Channel;
    try {
      ch = await conn.createChannel();
    } catch {
      retry();
      return;
    }
    channel = ch;
    ch.on('error', (err: Error) => {
      if (/NOT_FOUND/.test(err.message)) lost();
      else options.logger.debug({ err: err.message, stream: options.stream }, 'stream follower channel error');
    });
    ch.on('close', () => {
      if (channel === ch) channel = undefined;
      attached = false;
      if (options.connection.current() === conn) retry();
    });
    try {
      await ch.prefetch(prefetch);
      const from: StreamStart = last === undefined ? options.start() : last + 1;
      let unacked = 0;
      let pending: ConsumeMessage | undefined;
      let scheduled = false;
      // Streams only need acks as credit: one cumulative ack per half prefetch or per tick, always of the newest message.
      const ackNow = () => {
        scheduled = false;
        if (pending === undefined || channel !== ch) return;
        try {
          ch.ack(pending, true);
        } catch {
          // The channel closed meanwhile; the next attach starts after `last`.
        }
        pending = undefined;
        unacked = 0;
      };
      await ch.consume(
        options.stream,
        (msg) => {
          if (msg === null) {
            lost();
            ch.close().catch(() => undefined);
            return;
          }
          const offset = streamOffsetOf(msg);
          if (offset !== undefined) last = offset;
          pending = msg;
          if (++unacked >= prefetch >> 1) ackNow();
          else if (!scheduled) {
            scheduled = true;
            setImmediate(ackNow);
          }
          if (offset !== undefined) options.onMessage(msg, offset);
        },
        { noAck: false, arguments: { 'x-stream-offset': from } },
      );
      const fresh = missing;
      missing = false;
      attached = true;
      options.onAttached?.(fresh);
    } catch (err) {
      if (channel === ch) channel = undefined;
      if (/NOT_FOUND/.test((err as Error).message)) lost();
      ch.close().catch(() => undefined);
      retry();
    }
  }

  const unsubscribe = options.connection.onConnect((conn) => {
    channel = undefined;
    return attach(conn);
  });

  return {
    isAttached: () => attached,
    async close() {
      closed = true;
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      const ch = channel;
      channel = undefined;
      if (ch) await ch.close().catch(() => undefined);
    },
  };
}
