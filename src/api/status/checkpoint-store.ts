import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { UnroutableError } from '../../errors/index.ts';
import type { JobEventKeyring } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import {
  checkpointProperties,
  decodeCheckpoint,
  encodeEpoch,
  encodeMarker,
  encodeSegment,
  encodeSnapshot,
  type CheckpointRecord,
  type CheckpointRejection,
} from './checkpoint-codec.ts';
import { StreamMissingError } from './history-errors.ts';
import type { HistorySegment } from './history-segment.ts';
import { createStreamFollower, type StreamFollower } from './stream-follower.ts';
import type { StreamReader } from './stream-reader.ts';

/** What a replica found in the checkpoint stream at boot. */
export interface LoadedCheckpoints {
  /** The newest snapshot's segments and every segment record near or after it (may overlap: the catalog sorts that out). */
  segments: HistorySegment[];
  /** Checkpoint messages read. */
  messages: number;
  /** Messages skipped: unsigned, signed with another key, or not a checkpoint. */
  rejected: number;
}

/** Callbacks of {@link CheckpointStore.follow}. */
export interface CheckpointHandlers {
  /** A segment written by any replica (this one included). */
  onSegment(segment: HistorySegment): void;
  /** The checkpoint stream itself was recreated (empty): write every segment held again. */
  onRecreated(): void;
}

/** The checkpoint stream: what boot reads instead of the whole job-events stream. */
export interface CheckpointStore {
  /**
   * Reads the newest snapshot and the segment records since (it appends a
   * marker to learn where the stream ends, then reads back from there to the
   * snapshot the newest records point at). Rejects with StreamMissingError when
   * the stream does not exist.
   */
  load(): Promise<LoadedCheckpoints>;
  /** Follows records written from now on (after load, or from the start when load failed). */
  follow(handlers: CheckpointHandlers): void;
  /** Writes a segment unless some replica already did; never throws (retries, logs). */
  write(segment: HistorySegment): void;
  /** Writes an epoch record: the segments before it describe a job-events stream that no longer exists. */
  writeEpoch(reason: string): Promise<void>;
  /** Writes a snapshot if one is due (the history calls it when it has indexed everything). */
  snapshotSoon(): void;
  /** Forgets what was recorded and what waits to be written: the job-events stream was recreated, its offsets start again. */
  forget(): void;
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
  /** Every segment this replica holds: what a snapshot writes. */
  segments: () => readonly HistorySegment[];
  /**
   * A segment is written after a random delay of up to this long, and only if
   * no other replica wrote it meanwhile: replicas cut the same segments. @default 1000
   */
  writeJitterMs?: number;
  /** @default 2000 */
  retryMs?: number;
  /** Segments waiting to be written at most (the stream missing for long); the oldest are dropped. @default 10000 */
  maxPending?: number;
  /**
   * A snapshot is written once this many segment records followed the newest
   * one, or a tenth of the segments held if that is more: boot then reads a
   * snapshot and at most that many records. @default 64
   */
  snapshotAfter?: number;
  /** Called with each record of another reader of the stream (kind `other`: the dead-letter checkpoints) that a load or the follower reads. */
  onOther?: (msg: ConsumeMessage, offset: number) => void;
  /** False while the replica's segments have holes (indexing in the background): a snapshot then would describe less than the stream. @default always */
  snapshotAllowed?: () => boolean;
}

const key = (s: HistorySegment) => `${s.start}-${s.end}`;

/** A decoded checkpoint message and its offset in the checkpoint stream. */
export interface CheckpointEntry {
  offset: number;
  record: CheckpointRecord;
}

/**
 * What boot keeps of the records read: everything after the newest epoch; the
 * newest complete snapshot and every segment record. Returns undefined when the
 * records give no starting point yet (no snapshot, no epoch), with the oldest
 * `base` pointer to read from, if any.
 */
export function resolveCheckpoints(entries: readonly CheckpointEntry[], fromStart: boolean): { segments: HistorySegment[]; snapshotOffset: number | undefined } | { base: number | undefined } {
  let from = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.record.kind === 'epoch') {
      from = i + 1;
      break;
    }
  }
  const live = entries.slice(from);
  const parts = new Map<string, { first: number; seen: Map<number, HistorySegment[]>; parts: number }>();
  let snapshot: { first: number; segments: HistorySegment[] } | undefined;
  for (const { offset, record } of live) {
    if (record.kind !== 'snapshot') continue;
    let p = parts.get(record.id);
    if (p === undefined) parts.set(record.id, (p = { first: offset, seen: new Map(), parts: record.parts }));
    p.seen.set(record.part, record.segments);
    if (p.seen.size === p.parts) snapshot = { first: p.first, segments: [...p.seen.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, s]) => s) };
  }
  const records = live.flatMap((e) => (e.record.kind === 'segment' ? [e.record.segment] : []));
  if (snapshot !== undefined || from > 0 || fromStart) return { segments: [...(snapshot?.segments ?? []), ...records], snapshotOffset: snapshot?.first };
  const bases = live.flatMap((e) => (e.record.kind === 'segment' && e.record.base !== undefined ? [e.record.base] : []));
  return { base: bases.length === 0 ? undefined : Math.max(...bases) };
}

/** Creates the store. */
export function createCheckpointStore(options: CheckpointStoreOptions): CheckpointStore {
  const log = options.logger;
  const jitter = options.writeJitterMs ?? 1_000;
  const retryMs = options.retryMs ?? 2_000;
  const maxPending = options.maxPending ?? 10_000;
  const snapshotAfter = options.snapshotAfter ?? 64;
  const recorded = new Set<string>();
  const pending = new Map<string, HistorySegment>();
  const rejected: Record<CheckpointRejection, number> = { unsigned: 0, 'unknown-key': 0, 'bad-signature': 0, malformed: 0 };
  let loadedThrough: number | undefined;
  // Offset of the newest complete snapshot's first part, and segment records seen since it.
  let base: number | undefined;
  let sinceSnapshot = 0;
  const snapshotParts = new Map<string, { first: number; seen: Set<number>; parts: number }>();
  let snapshotTimer: NodeJS.Timeout | undefined;
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

  function warn(err: unknown): void {
    if (err instanceof UnroutableError) available = false;
    const now = Date.now();
    if (now - lastWarn < 30_000) return;
    lastWarn = now;
    log.warn(
      { err: (err as Error).message, stream: options.stream, pending: pending.size },
      'could not write a job-history checkpoint; retrying (without checkpoints a restarted replica re-indexes the stream; run warren topology apply if the stream is missing)',
    );
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
          await publish(encodeSegment(s, base));
          recorded.add(k);
          pending.delete(k);
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) {
        warn(failed.reason);
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

  let snapshotting: Promise<void> | undefined;

  function snapshotDue(count: number): boolean {
    return !closed && available && options.snapshotAllowed?.() !== false && sinceSnapshot >= Math.max(snapshotAfter, Math.floor(count / 10));
  }

  function writeSnapshot(): Promise<void> {
    const segments = options.segments();
    if (!snapshotDue(segments.length)) return Promise.resolve();
    sinceSnapshot = 0;
    const id = randomUUID();
    snapshotting = Promise.all(encodeSnapshot(id, segments).map((part) => publish(part)))
      .then(() => log.debug({ segments: segments.length, id }, 'wrote a job-history snapshot'))
      .catch((err: unknown) => {
        sinceSnapshot = snapshotAfter;
        warn(err);
      })
      .finally(() => {
        snapshotting = undefined;
      });
    return snapshotting;
  }

  /** Writes a snapshot when enough records followed the newest one (after a random delay, unless another replica wrote one meanwhile). */
  function maybeSnapshot(): void {
    if (snapshotTimer !== undefined || !snapshotDue(options.segments().length)) return;
    snapshotTimer = setTimeout(
      () => {
        snapshotTimer = undefined;
        void writeSnapshot();
      },
      Math.floor(Math.random() * jitter * 2),
    );
    snapshotTimer.unref();
  }

  /** Reads [from, to] of the checkpoint stream. */
  async function readRange(from: number | 'first', to: number): Promise<CheckpointEntry[]> {
    const entries: CheckpointEntry[] = [];
    await options.reader.read(
      options.stream,
      from,
      (msg, offset) => {
        if (offset > to) return false;
        const r = decode(msg);
        if (!('rejected' in r)) {
          if (r.kind === 'other') options.onOther?.(msg, offset);
          else entries.push({ offset, record: r });
        }
        return offset < to;
      },
      { prefetch: 256, idleMs: 10_000 },
    );
    return entries;
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
      let end: number | undefined;
      await options.reader.read(
        options.stream,
        'last',
        (msg, offset) => {
          const r = decode(msg);
          if (!('rejected' in r) && r.kind === 'marker' && r.id === markerId) {
            end = offset;
            return false;
          }
          return true;
        },
        { prefetch: 64, idleMs: 10_000 },
      );
      if (end === undefined) throw new StreamMissingError(options.stream, new Error('the checkpoint marker did not come back'));
      // Back from the end until a snapshot (or what the newest records say is one) is in reach.
      let entries: CheckpointEntry[] = [];
      let readFrom = end + 1;
      let result: { segments: HistorySegment[]; snapshotOffset: number | undefined } | undefined;
      for (const back of [64, 1_024, 16_384, Number.POSITIVE_INFINITY]) {
        const from = Number.isFinite(back) ? Math.max(0, end - back) : 0;
        if (from < readFrom) {
          entries = [...(await readRange(from === 0 ? 'first' : from, readFrom - 1)), ...entries];
          readFrom = from;
        }
        let r = resolveCheckpoints(entries, readFrom === 0);
        if ('base' in r && r.base !== undefined && r.base < readFrom) {
          entries = [...(await readRange(r.base, readFrom - 1)), ...entries];
          readFrom = r.base;
          r = resolveCheckpoints(entries, readFrom === 0);
        }
        if (!('base' in r)) {
          result = r;
          break;
        }
        if (readFrom === 0) break;
      }
      loadedThrough = end;
      available = true;
      const segments = result?.segments ?? [];
      for (const s of segments) recorded.add(key(s));
      base = result?.snapshotOffset;
      sinceSnapshot = entries.filter((e) => e.record.kind === 'segment' && (base === undefined || e.offset > base)).length;
      return { segments, messages: entries.length, rejected: Object.values(rejected).reduce((a, b) => a + b, 0) };
    },
    follow(handlers) {
      if (follower) return;
      let recreated = false;
      follower = createStreamFollower({
        connection: options.connection,
        stream: options.stream,
        logger: log,
        start: () => (loadedThrough !== undefined && !recreated ? loadedThrough + 1 : 'first'),
        onMessage(msg, offset) {
          const r = decode(msg);
          if (!('rejected' in r) && r.kind === 'other') options.onOther?.(msg, offset);
          if ('rejected' in r || r.kind === 'marker' || r.kind === 'epoch' || r.kind === 'other') return;
          if (r.kind === 'snapshot') {
            let p = snapshotParts.get(r.id);
            if (p === undefined) snapshotParts.set(r.id, (p = { first: offset, seen: new Set(), parts: r.parts }));
            p.seen.add(r.part);
            if (p.seen.size === p.parts) {
              snapshotParts.delete(r.id);
              base = p.first;
              sinceSnapshot = 0;
            }
            return;
          }
          recorded.add(key(r.segment));
          sinceSnapshot++;
          handlers.onSegment(r.segment);
          maybeSnapshot();
        },
        onMissing() {
          available = false;
          recreated = true;
          base = undefined;
          log.warn({ stream: options.stream }, 'the job-history checkpoint stream is gone; history keeps working from memory (run warren topology apply to recreate it)');
        },
        onAttached(fresh) {
          available = true;
          if (fresh) {
            recorded.clear();
            sinceSnapshot = 0;
            handlers.onRecreated();
          }
          if (pending.size > 0) schedule(0);
          maybeSnapshot();
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
    snapshotSoon: maybeSnapshot,
    forget() {
      recorded.clear();
      pending.clear();
      base = undefined;
      sinceSnapshot = 0;
    },
    isAvailable: () => available,
    rejected: () => ({ ...rejected }),
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      // A stopping replica leaves its segments, and a snapshot if one was due, for the next start.
      const snapshotWasDue = snapshotTimer !== undefined;
      if (snapshotTimer !== undefined) clearTimeout(snapshotTimer);
      snapshotTimer = undefined;
      if ((pending.size > 0 || snapshotWasDue || snapshotting !== undefined) && available) {
        const work = flush().then(() => snapshotting ?? (snapshotWasDue ? writeSnapshot() : undefined));
        await Promise.race([work, new Promise((r) => setTimeout(r, 5_000).unref())]);
      }
      closed = true;
      await follower?.close();
    },
  };
}
