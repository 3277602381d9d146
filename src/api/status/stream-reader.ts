import type { Channel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import { WarrenError } from '../../errors/index.ts';
import { StreamMissingError } from './history-errors.ts';

/** Where a read starts: an offset, or the stream's first retained message / its last chunk. */
export type StreamStart = number | 'first' | 'last';

/** Options of one {@link StreamReader.read}. */
export interface StreamReadOptions {
  /**
   * Unacked messages the broker may push. Streams require one; size it to the
   * range read: the broker pushes that many whether they are wanted or not,
   * and the cancel waits behind them. @default 64
   */
  prefetch?: number;
  /** Resolve with 'idle' when no message arrives for this long (the end of the stream, or an empty one). @default 5000 */
  idleMs?: number;
  signal?: AbortSignal;
}

/** Reads ranges of streams through short-lived consumers on a small pool of channels (amqplib's public API only). */
export interface StreamReader {
  /**
   * Delivers messages from `start` in order to `onMessage` until it returns
   * false ('stopped'), or nothing arrives for `idleMs` ('idle'). Rejects with
   * StreamMissingError when the stream does not exist, or with the channel's error.
   */
  read(stream: string, start: StreamStart, onMessage: (msg: ConsumeMessage, offset: number) => boolean, options?: StreamReadOptions): Promise<'stopped' | 'idle'>;
  /** Closes the pooled channels. */
  close(): Promise<void>;
}

/** Options of {@link createStreamReader}. */
export interface StreamReaderOptions {
  connection: BrokerConnection;
  /** Reads running at once (one channel each); more wait. @default 4 */
  maxConcurrent?: number;
}

/** The offset amqplib hands over in the `x-stream-offset` header. */
export function streamOffsetOf(msg: ConsumeMessage): number | undefined {
  const off = msg.properties.headers?.['x-stream-offset'];
  return typeof off === 'number' ? off : undefined;
}

/** Creates the reader. */
export function createStreamReader(options: StreamReaderOptions): StreamReader {
  const maxConcurrent = options.maxConcurrent ?? 4;
  const idle: Channel[] = [];
  const waiting: (() => void)[] = [];
  let running = 0;
  let closed = false;

  async function acquire(): Promise<Channel> {
    while (running >= maxConcurrent) await new Promise<void>((r) => waiting.push(r));
    running++;
    const pooled = idle.pop();
    if (pooled) return pooled;
    const conn = options.connection.current();
    if (!conn) {
      release(undefined);
      throw new WarrenError('BROKER_UNAVAILABLE', 'not connected to the broker');
    }
    try {
      const ch = await conn.createChannel();
      // A failed consume closes the channel with an 'error' event; the read's promise reports it.
      ch.on('error', () => undefined);
      return ch;
    } catch (err) {
      release(undefined);
      throw err;
    }
  }

  function release(ch: Channel | undefined): void {
    running--;
    if (ch && !closed) idle.push(ch);
    waiting.shift()?.();
  }

  return {
    async read(stream, start, onMessage, readOptions = {}) {
      const prefetch = Math.max(1, Math.min(readOptions.prefetch ?? 64, 65_535));
      const idleMs = readOptions.idleMs ?? 5_000;
      const ch = await acquire();
      let healthy = true;
      let tag: string | undefined;
      try {
        return await new Promise<'stopped' | 'idle'>((resolve, reject) => {
          let done = false;
          let lastMsg: ConsumeMessage | undefined;
          let unacked = 0;
          let idleTimer: NodeJS.Timeout | undefined;
          const finish = (how: 'stopped' | 'idle' | Error) => {
            if (done) return;
            done = true;
            if (idleTimer !== undefined) clearTimeout(idleTimer);
            ch.removeListener('close', onClose);
            readOptions.signal?.removeEventListener('abort', onAbort);
            // Acks are only credit on a stream; acknowledging what was handed over keeps the delivery tags consistent for the next read on this channel.
            if (lastMsg !== undefined && unacked > 0 && healthy) {
              try {
                ch.ack(lastMsg, true);
              } catch {
                healthy = false;
              }
            }
            if (how instanceof Error) reject(how);
            else resolve(how);
          };
          const armIdle = () => {
            if (idleTimer !== undefined) clearTimeout(idleTimer);
            idleTimer = setTimeout(() => finish('idle'), idleMs);
          };
          const onClose = () => {
            healthy = false;
            finish(new WarrenError('STREAM_READ_FAILED', `the channel reading stream '${stream}' closed`));
          };
          const onAbort = () => finish(new WarrenError('STREAM_READ_ABORTED', 'read aborted'));
          ch.once('close', onClose);
          readOptions.signal?.addEventListener('abort', onAbort, { once: true });
          ch.prefetch(prefetch)
            .then(() =>
              ch.consume(
                stream,
                (msg) => {
                  if (done) return;
                  if (msg === null) {
                    // The broker cancelled the consumer: the stream was deleted.
                    healthy = false;
                    finish(new StreamMissingError(stream));
                    return;
                  }
                  lastMsg = msg;
                  unacked++;
                  if (unacked >= Math.max(1, prefetch >> 1)) {
                    ch.ack(msg, true);
                    unacked = 0;
                  }
                  const offset = streamOffsetOf(msg);
                  let more: boolean;
                  try {
                    more = offset === undefined ? true : onMessage(msg, offset);
                  } catch (err) {
                    finish(err as Error);
                    return;
                  }
                  if (!more) finish('stopped');
                  else armIdle();
                },
                { noAck: false, arguments: { 'x-stream-offset': start } },
              ),
            )
            .then((ok) => {
              tag = ok.consumerTag;
              if (!done) armIdle();
            })
            .catch((err: Error) => {
              healthy = false;
              finish(/NOT_FOUND/.test(err.message) ? new StreamMissingError(stream, err) : err);
            });
        });
      } finally {
        // The answer does not wait for the cancel's round trip: the channel goes back to the pool once it is done.
        const cancelled = tag !== undefined && healthy ? ch.cancel(tag).then(() => true, () => false) : Promise.resolve(healthy);
        void cancelled.then((ok) => {
          if (!ok) ch.close().catch(() => undefined);
          release(ok ? ch : undefined);
        });
      }
    },
    async close() {
      closed = true;
      const all = idle.splice(0);
      await Promise.all(all.map((ch) => ch.close().catch(() => undefined)));
    },
  };
}
