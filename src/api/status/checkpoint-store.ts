import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { UnroutableError } from '../../errors/index.ts';
import type { JobEventKeyring } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import { checkpointProperties, decodeCheckpoint, encodeEpoch, encodeMarker, encodeSegment, type CheckpointRejection } from './checkpoint-codec.ts';
import { StreamMissingError } from './history-errors.ts';
import type { HistorySegment } from './history-segment.ts';
import { createStreamFollower, type StreamFollower } from './stream-follower.ts';
import type { StreamReader } from './stream-reader.ts';

/** What a replica found in the checkpoint stream at boot. */
export interface LoadedCheckpoints {
  /** Segments written since the last epoch record, in stream order (may overlap: the catalog sorts that out). */
  segments: HistorySegment[];
  /** Messages skipped: unsigned, signed with another key, or not a checkpoint. */
  rejected: number;
}

/** Callbacks of {@link CheckpointStore.follow}. */
export interface CheckpointHandlers {
  /** A segment written by any replica (this one included). */
  onSegment(segment: HistorySegment): void;
  /** Another replica found the job-events stream recreated: every segment before describes the old one. */
  onEpoch(): void;
  /** The checkpoint stream itself was recreated (empty): write every segment held again. */
  onRecreated(): void;
}

/** The checkpoint stream: what boot reads instead of the whole job-events stream. */
export interface CheckpointStore {
  /** Reads every record up to now (appends a marker and reads until it). Rejects with StreamMissingError when the stream does not exist. */
  load(): Promise<LoadedCheckpoints>;
  /** Follows records written from now on (after load, or from the start when load failed). */
  follow(handlers: CheckpointHandlers): void;
  /** Writes a segment unless some replica already did; never throws (retries, logs). */
  write(segment: HistorySegment): void;
  /** Writes an epoch record: the segments before it describe a job-events stream that no longer exists. */
  writeEpoch(reason: string): Promise<void>;
  /** False while the checkpoint stream is missing. */
  isAvailable(): boolean;
  /** Checkpoint messages skipped since start, by reason. */
  rejected(): Record<CheckpointRejection, number>;
  /** Writes what is waiting (a stopping replica leaves its segments for the next start), then stops following. */
  close(): Promise<void>;
}

/** Options of {@link createCheckpointStore}. */
export interface CheckpointStoreOptions {
  connection: BrokerConnection;
  publisher: Pick<ConfirmPublisher, 'publish'>;
  reader: StreamReader;
  keys: JobEventKeyring;
  /** The checkpoint stream (topology `jobEvents.checkpointStream`); written through the default exchange. */
  stream: string;
  logger: Logger;
  /**
   * A segment is written after a random delay of up to this long, and only if
   * no other replica wrote it meanwhile: replicas cut the same segments. @default 1000
   */
  writeJitterMs?: number;
  /** @default 2000 */
  retryMs?: number;
  /** Segments waiting to be written at most (the stream missing for long); the oldest are dropped. @default 10000 */
  maxPending?: number;
}

const key = (s: HistorySegment) => `${s.start}-${s.end}`;

/** Creates the store. */
export function createCheckpointStore(options: CheckpointStoreOptions): CheckpointStore {
  const log = options.logger;
  const jitter = options.writeJitterMs ?? 1_000;
  const retryMs = options.retryMs ?? 2_000;
  const maxPending = options.maxPending ?? 10_000;
  const recorded = new Set<string>();
  const pending = new Map<string, HistorySegment>();
  const rejected: Record<CheckpointRejection, number> = { unsigned: 0, 'unknown-key': 0, 'bad-signature': 0, malformed: 0 };
  let loadedThrough: number | undefined;
  let available = false;
  let follower: StreamFollower | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastWarn = 0;

  function decode(msg: ConsumeMessage) {
    const r = decodeCheckpoint(options.keys, msg.properties.type, msg.properties.headers as Record<string, unknown> | undefined, msg.content);
    if ('rejected' in r) rejected[r.rejected]++;
    return r;
  }

  async function publish(content: Buffer): Promise<void> {
    await options.publisher.publish({ exchange: '', routingKey: options.stream, content, properties: checkpointProperties(options.keys, content) });
  }

  function schedule(delay: number): void {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delay);
    timer.unref();
  }

  let flushing: Promise<void> | undefined;

  /** Writes every pending segment (16 confirms in flight); on a failure, retries the rest later. */
  async function writePending(): Promise<void> {
    const todo = [...pending].filter(([k]) => {
      if (!recorded.has(k)) return true;
      pending.delete(k);
      return false;
    });
    for (let i = 0; i < todo.length && !closed; i += 16) {
      const results = await Promise.allSettled(
        todo.slice(i, i + 16).map(async ([k, s]) => {
          await publish(encodeSegment(s));
          recorded.add(k);
          pending.delete(k);
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) {
        if (failed.reason instanceof UnroutableError) available = false;
        const now = Date.now();
        if (now - lastWarn > 30_000) {
          lastWarn = now;
          log.warn(
            { err: (failed.reason as Error).message, stream: options.stream, pending: pending.size },
            'could not write a job-history checkpoint; retrying (without checkpoints a restarted replica re-indexes the stream; run warren topology apply if the stream is missing)',
          );
        }
        schedule(retryMs);
        return;
      }
    }
  }

  function flush(): Promise<void> {
    if (closed) return Promise.resolve();
    flushing ??= writePending().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  return {
    async load() {
      const markerId = randomUUID();
      try {
        await publish(encodeMarker(markerId));
      } catch (err) {
        if (err instanceof UnroutableError) throw new StreamMissingError(options.stream, err);
        throw err;
      }
      let segments: HistorySegment[] = [];
      let seen = false;
      const how = await options.reader.read(
        options.stream,
        'first',
        (msg, offset) => {
          const r = decode(msg);
          if ('rejected' in r) return true;
          if (r.kind === 'segment') {
            segments.push(r.segment);
            recorded.add(key(r.segment));
          } else if (r.kind === 'epoch') {
            segments = [];
          } else if (r.id === markerId) {
            loadedThrough = offset;
            seen = true;
            return false;
          }
          return true;
        },
        { prefetch: 512, idleMs: 10_000 },
      );
      if (how === 'idle' && !seen) log.warn({ stream: options.stream }, 'did not read back the checkpoint marker; using the checkpoints read so far');
      available = true;
      return { segments, rejected: Object.values(rejected).reduce((a, b) => a + b, 0) };
    },
    follow(handlers) {
      if (follower) return;
      let recreated = false;
      follower = createStreamFollower({
        connection: options.connection,
        stream: options.stream,
        logger: log,
        start: () => (loadedThrough !== undefined && !recreated ? loadedThrough + 1 : 'first'),
        onMessage(msg) {
          const r = decode(msg);
          if ('rejected' in r || r.kind === 'marker') return;
          if (r.kind === 'epoch') {
            handlers.onEpoch();
            return;
          }
          recorded.add(key(r.segment));
          handlers.onSegment(r.segment);
        },
        onMissing() {
          available = false;
          recreated = true;
          log.warn({ stream: options.stream }, 'the job-history checkpoint stream is gone; history keeps working from memory (run warren topology apply to recreate it)');
        },
        onAttached(fresh) {
          available = true;
          if (fresh) {
            recorded.clear();
            handlers.onRecreated();
          }
          if (pending.size > 0) schedule(0);
        },
      });
    },
    write(segment) {
      const k = key(segment);
      if (recorded.has(k) || pending.has(k)) return;
      pending.set(k, segment);
      if (pending.size > maxPending) pending.delete(pending.keys().next().value as string);
      schedule(Math.floor(Math.random() * jitter));
    },
    async writeEpoch(reason) {
      await publish(encodeEpoch(reason));
    },
    isAvailable: () => available,
    rejected: () => ({ ...rejected }),
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (pending.size > 0 && available) {
        const flushed = flush();
        await Promise.race([flushed, new Promise((r) => setTimeout(r, 5_000).unref())]);
      }
      closed = true;
      await follower?.close();
    },
  };
}
