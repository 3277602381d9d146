import amqplib, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link tailStream}. */
export interface StreamTailOptions {
  /** AMQP URLs including the vhost; tried in turn (a cluster node may be down). */
  urls: readonly string[];
  stream: string;
  /** Called once per stream entry, in order; each entry is seen exactly once (offsets are tracked across reconnects). */
  onMessage(msg: ConsumeMessage): void;
  /** @default 500 */
  prefetch?: number;
}

/** A running stream reader. */
export interface StreamTail {
  /** Entries read so far. */
  count(): number;
  /** Times it had to reconnect. */
  reconnects(): number;
  close(): Promise<void>;
}

/**
 * Reads a stream queue from its first entry and keeps following it, from its own
 * connection (never through a test's TCP proxy). Resumes after the last offset
 * it saw when its node goes away, so an entry is neither missed nor counted twice:
 * every duplicate it reports was really written twice.
 */
export function tailStream(options: StreamTailOptions): StreamTail {
  let nextOffset: number | 'first' = 'first';
  let seen = 0;
  let reconnects = 0;
  let closed = false;
  let conn: ChannelModel | undefined;
  let urlIndex = 0;

  async function runOnce(url: string): Promise<void> {
    const c = await amqplib.connect(url, { timeout: 3000 });
    conn = c;
    const done = new Promise<void>((resolve) => {
      c.on('close', () => resolve());
      c.on('error', () => undefined);
    });
    try {
      const ch = await c.createChannel();
      ch.on('error', () => undefined);
      await ch.prefetch(options.prefetch ?? 500);
      await ch.consume(
        options.stream,
        (msg) => {
          if (!msg) return;
          const offset = msg.properties.headers?.['x-stream-offset'] as number | undefined;
          // After a resume the broker may start at the chunk holding the offset: skip what was seen.
          if (typeof offset === 'number' && typeof nextOffset === 'number' && offset < nextOffset) {
            ch.ack(msg);
            return;
          }
          if (typeof offset === 'number') nextOffset = offset + 1;
          seen += 1;
          options.onMessage(msg);
          ch.ack(msg);
        },
        { noAck: false, arguments: { 'x-stream-offset': nextOffset } },
      );
    } catch {
      await c.close().catch(() => undefined);
    }
    await done;
  }

  const loop = (async () => {
    while (!closed) {
      const url = options.urls[urlIndex % options.urls.length] as string;
      try {
        await runOnce(url);
      } catch {
        // connection refused: try the next node
      }
      if (closed) break;
      reconnects += 1;
      urlIndex += 1;
      await sleep(300);
    }
  })();

  return {
    count: () => seen,
    reconnects: () => reconnects,
    async close() {
      closed = true;
      await conn?.close().catch(() => undefined);
      await loop;
    },
  };
}
