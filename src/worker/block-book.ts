import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import { applyBlockEvent, parseBlockEvent, type BlockEvent } from '../jobs/ordering.ts';
import type { Logger } from '../observability/logger.ts';

/** How long a `releasing` event holds a key's new jobs back at most (a requeue takes seconds). */
const RELEASING_TTL_MS = 60_000;

/** Collaborators of {@link createBlockBook}. */
export interface BlockBookDeps {
  /** The ordered queue's `<q>.blocks` stream. */
  stream: string;
  connection: BrokerConnection;
  publisher: ConfirmPublisher;
  logger: Logger;
}

/**
 * Which keys of one ordered queue are blocked, and by which job
 * (docs/ordered-routes.md, "Blocked keys"). The state lives in RabbitMQ: the
 * `<q>.blocks` stream holds every block and release, each appended with a
 * publisher confirm before the worker acts on it. Every worker replica reads
 * the stream from its first message and keeps following it, so all replicas
 * (and a replica that takes a partition over after a crash) agree, and a
 * restart loses nothing. The map here is only that stream folded.
 */
export interface BlockBook {
  /** Reads the stream up to its end (resolves then) and keeps following it, across reconnects. */
  start(timeoutMs?: number): Promise<void>;
  /** The job blocking `key`, if any. */
  blockedBy(key: string): string | undefined;
  /** True while a requeue of `by`, the job blocking `key`, is under way (a `releasing` event, at most a minute old). */
  releasing(key: string, by: string): boolean;
  /** Appends a block of `key` by job `by` (confirmed) and applies it here. */
  block(key: string, by: string): Promise<void>;
  /** Appends a release of `key`'s block by `by` (confirmed) and applies it here. */
  release(key: string, by: string): Promise<void>;
  /** Blocked keys now (key -> blocking job). */
  snapshot(): ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

/** Creates the block book of one ordered queue. */
export function createBlockBook(deps: BlockBookDeps): BlockBook {
  const { stream, connection, publisher, logger } = deps;
  const blocked = new Map<string, string>();
  /** key -> [blocking job being requeued, when this process read it]. */
  const releasingKeys = new Map<string, [string, number]>();
  let channel: Channel | undefined;
  let unsubscribe: (() => void) | undefined;
  let stopped = false;
  /** Stream offset of the next message to apply: a reconnect resumes there instead of replaying. */
  let nextOffset: number | 'first' = 'first';
  const helloWaiters = new Map<string, () => void>();

  async function append(e: BlockEvent | { type: 'hello'; id: string }): Promise<void> {
    await publisher.publish({ exchange: '', routingKey: stream, content: Buffer.from(JSON.stringify(e)), properties: { contentType: 'application/json', type: `warren.order.${e.type}` } });
  }

  function onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return;
    const offset = (msg.properties.headers as Record<string, unknown> | undefined)?.['x-stream-offset'];
    if (typeof offset === 'number') nextOffset = offset + 1;
    const e = parseBlockEvent(msg.content);
    if (e) {
      applyBlockEvent(blocked, e);
      if (e.type === 'releasing') releasingKeys.set(e.key, [e.by, Date.now()]);
      else releasingKeys.delete(e.key);
    }
    else {
      try {
        const v = JSON.parse(msg.content.toString('utf8')) as { type?: unknown; id?: unknown };
        if (v.type === 'hello' && typeof v.id === 'string') helloWaiters.get(v.id)?.();
      } catch {
        // not one of ours: ignored
      }
    }
    try {
      ch.ack(msg);
    } catch {
      // channel closing: the next subscription resumes from nextOffset
    }
  }

  async function subscribe(conn: ChannelModel): Promise<void> {
    if (stopped) return;
    const ch = await conn.createChannel();
    channel = ch;
    ch.on('error', (err: Error) => logger.warn({ stream, err: err.message }, 'block stream channel error'));
    await ch.prefetch(500);
    await ch.consume(stream, (m) => onMessage(ch, m), { noAck: false, arguments: { 'x-stream-offset': nextOffset } });
  }

  return {
    async start(timeoutMs = 15_000) {
      let first: Promise<void> | undefined;
      unsubscribe = connection.onConnect((conn) => {
        const p = subscribe(conn).catch((err: unknown) => {
          logger.error({ stream, err: (err as Error).message }, 'could not follow the block stream');
          throw err;
        });
        first ??= p;
        return p.catch(() => undefined);
      });
      if (first) await first;
      // Caught up once our own marker comes back: everything appended before it has been applied.
      const id = randomUUID();
      const seen = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`block stream '${stream}' not read to its end within ${timeoutMs}ms`)), timeoutMs);
        helloWaiters.set(id, () => {
          clearTimeout(timer);
          helloWaiters.delete(id);
          resolve();
        });
      });
      await append({ type: 'hello', id });
      await seen;
    },
    blockedBy: (key) => blocked.get(key),
    releasing(key, by) {
      const r = releasingKeys.get(key);
      // A requeue that died before sending the job back must not hold the key for good.
      return r !== undefined && r[0] === by && Date.now() - r[1] < RELEASING_TTL_MS;
    },
    async block(key, by) {
      await append({ type: 'block', key, by, at: new Date().toISOString() });
      applyBlockEvent(blocked, { type: 'block', key, by, at: '' });
      releasingKeys.delete(key);
    },
    async release(key, by) {
      await append({ type: 'release', key, by, at: new Date().toISOString(), why: 'succeeded' });
      applyBlockEvent(blocked, { type: 'release', key, by, at: '', why: 'succeeded' });
      releasingKeys.delete(key);
    },
    snapshot: () => blocked,
    async stop() {
      stopped = true;
      unsubscribe?.();
      await channel?.close().catch(() => undefined);
    },
  };
}
