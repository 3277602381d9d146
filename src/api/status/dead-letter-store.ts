import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import type { JobEvent } from '../../jobs/job-event.ts';
import { messageAnchor } from './history-segment.ts';

/**
 * The jobs that are dead-lettered now, by the job events: each job's newest
 * `dead-lettered` or `blocked` event that carries the dead letter's
 * particulars (`deadLetter`), until a later event of the job (`requeued`,
 * or the job running again) says it left. The dead-letter failure groups
 * (`GET /v1/dlq/{queue}/groups`) are counted from it instead of reading the
 * queue; where each job's dead letter lies is worked out from the topology
 * by the DLQ tooling (src/dlq/event-groups.ts), not here.
 *
 * It follows the job-events tail message by message (`add` per event, then
 * `commit` with the message's stream offset), and is written to the
 * checkpoint stream with that offset (dead-letter-checkpoints.ts), so a
 * restarted replica restores it and replays only the events after it.
 */
export interface DeadLetterStore {
  /** An event decoded from the tail's current message (applied at {@link commit}). */
  add(event: JobEvent): void;
  /** The tail handled the message at `offset` (`content`: its body, fingerprinted when a checkpoint is written): its events apply now, or after the restore when one runs. */
  commit(offset: number, content: Buffer): void;
  /** False while restoring or replaying (boot): the records are not the whole story yet. */
  ready(): boolean;
  /** Resolves true once ready, false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /** The held records (one per dead-lettered job). */
  records(): IterableIterator<{ event: JobEvent }>;
  size(): number;
  /** Changes so far (a checkpoint is written when it moved). */
  version(): number;
  /** Offset and fingerprint of the last message applied; undefined before the first. */
  position(): { offset: number; anchor: string } | undefined;
  /** Offset of the last message applied (no fingerprint computed). */
  offset(): number | undefined;
  /** Starts a restore: tail messages are held back until {@link finishRestore}. */
  beginRestore(): void;
  /** Replaces the records with a checkpoint's (or none) at its position. */
  load(records: readonly JobEvent[], position: { offset: number; anchor: string } | undefined): void;
  /** Applies one replayed event (stream order, before the tail's start). */
  replay(event: JobEvent): void;
  /** The replay reached the tail's start: applies what the tail held back, from `tailFrom` on, and is ready. */
  finishRestore(position: { offset: number; anchor: string } | undefined): void;
  /** Encodes the records and the position (gzip'd JSON). */
  encode(): Buffer;
}

/** The dead-letter statuses a record is made of. */
const HOLDS = new Set<JobEvent['status']>(['dead-lettered', 'blocked']);

/** Error messages kept per record (the groups show a sample of 300 characters). */
const MESSAGE_KEPT = 300;

/**
 * The checkpoint's body: column by column, the strings that repeat (queues, routes, reasons, error classes and
 * messages, origins) as indexes into `strings`, so 20,000 dead letters weigh ~60 kB gzip'd. zod checks the
 * envelope; the columns' values are checked one by one while the records are built (a zod schema per element
 * costs ~0.4 s on a process's first 20,000-record checkpoint, before its code is warm).
 */
const column = z.custom<unknown[]>((v) => Array.isArray(v), 'an array');
const checkpointSchema = z.object({
  v: z.literal(2),
  offset: z.number().int().nonnegative(),
  anchor: z.string().min(1).max(64),
  strings: column,
  jobId: column,
  status: column,
  attempt: column,
  at: column,
  queue: column,
  route: column,
  errorClass: column,
  errorMessage: column,
  reason: column,
  originExchange: column,
  originRoutingKey: column,
  failedAt: column,
  requeued: column,
});

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** A decoded checkpoint of the store. */
export interface DeadLetterCheckpoint {
  offset: number;
  anchor: string;
  records: JobEvent[];
}

/** Decodes {@link DeadLetterStore.encode}'s output; undefined when it is not one (or its columns disagree). */
export function decodeDeadLetterCheckpoint(content: Buffer): DeadLetterCheckpoint | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(gunzipSync(content, { maxOutputLength: 512 * 1024 * 1024 }).toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = checkpointSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const c = parsed.data;
  const n = c.jobId.length;
  const columns = [c.status, c.attempt, c.at, c.queue, c.route, c.errorClass, c.errorMessage, c.reason, c.originExchange, c.originRoutingKey, c.failedAt, c.requeued];
  if (columns.some((col) => col.length !== n) || !c.strings.every((x) => typeof x === 'string')) return undefined;
  const strings = c.strings as string[];
  /** The string at index `i` of the table; null for an absent value; undefined when `i` is not an index of it. */
  const str = (i: unknown): string | null | undefined => (i === null ? null : isCount(i) ? strings[i] : undefined);
  const records: JobEvent[] = [];
  for (let i = 0; i < n; i++) {
    const jobId = c.jobId[i];
    const status = c.status[i];
    const attempt = c.attempt[i];
    const at = c.at[i];
    const failedAt = c.failedAt[i];
    const requeued = c.requeued[i];
    const queue = str(c.queue[i]);
    const reason = str(c.reason[i]);
    const originExchange = str(c.originExchange[i]);
    const originRoutingKey = str(c.originRoutingKey[i]);
    const route = str(c.route[i]);
    const errorClass = str(c.errorClass[i]);
    const errorMessage = str(c.errorMessage[i]);
    if (
      typeof jobId !== 'string' || jobId === '' || (status !== 'dead-lettered' && status !== 'blocked') || !isCount(attempt) || !isCount(requeued) ||
      typeof at !== 'string' || typeof failedAt !== 'string' || typeof queue !== 'string' || typeof reason !== 'string' ||
      typeof originExchange !== 'string' || typeof originRoutingKey !== 'string' || route === undefined || errorClass === undefined || errorMessage === undefined
    ) {
      return undefined;
    }
    const e: JobEvent = { jobId, status, attempt, at, queue, deadLetter: { reason, originExchange, originRoutingKey, failedAt, requeued } };
    if (route !== null) e.route = route;
    if (errorClass !== null) e.error = { class: errorClass, message: errorMessage ?? '' };
    records.push(e);
  }
  return { offset: c.offset, anchor: c.anchor, records };
}

/** Encodes records and a position as {@link decodeDeadLetterCheckpoint} reads them. */
export function encodeDeadLetterCheckpoint(records: Iterable<JobEvent>, at: { offset: number; anchor: string }): Buffer {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const idOf = (v: string | undefined): number | null => {
    if (v === undefined) return null;
    let i = ids.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      ids.set(v, i);
    }
    return i;
  };
  const c = {
    v: 2,
    offset: at.offset,
    anchor: at.anchor,
    strings,
    jobId: [] as string[],
    status: [] as string[],
    attempt: [] as number[],
    at: [] as string[],
    queue: [] as (number | null)[],
    route: [] as (number | null)[],
    errorClass: [] as (number | null)[],
    errorMessage: [] as (number | null)[],
    reason: [] as (number | null)[],
    originExchange: [] as (number | null)[],
    originRoutingKey: [] as (number | null)[],
    failedAt: [] as string[],
    requeued: [] as number[],
  };
  for (const e of records) {
    const dl = e.deadLetter;
    if (dl === undefined || e.queue === undefined) continue;
    c.jobId.push(e.jobId);
    c.status.push(e.status);
    c.attempt.push(e.attempt);
    c.at.push(e.at);
    c.queue.push(idOf(e.queue));
    c.route.push(idOf(e.route));
    c.errorClass.push(idOf(e.error?.class));
    c.errorMessage.push(idOf(e.error?.message));
    c.reason.push(idOf(dl.reason));
    c.originExchange.push(idOf(dl.originExchange));
    c.originRoutingKey.push(idOf(dl.originRoutingKey));
    c.failedAt.push(dl.failedAt);
    c.requeued.push(dl.requeued);
  }
  return gzipSync(Buffer.from(JSON.stringify(c)));
}

/** Creates an empty store (not ready until a restore finished). */
export function createDeadLetterStore(): DeadLetterStore {
  const held = new Map<string, { event: JobEvent }>();
  let pending: JobEvent[] = [];
  let restoring = true;
  let heldBack: { events: JobEvent[]; offset: number; content: Buffer }[] = [];
  // The fingerprint is computed when asked for (a checkpoint), not per tail message.
  let position: { offset: number; anchor: string | Buffer } | undefined;
  const positionNow = () => {
    if (position === undefined) return undefined;
    if (typeof position.anchor !== 'string') position = { offset: position.offset, anchor: messageAnchor(position.anchor) };
    return position as { offset: number; anchor: string };
  };
  let version = 0;
  const waiters = new Set<() => void>();

  function apply(e: JobEvent): void {
    if (HOLDS.has(e.status) && e.deadLetter !== undefined) {
      // Only what the groups use: a checkpoint of 20,000 dead letters stays a few hundred kB.
      const kept: JobEvent = { jobId: e.jobId, status: e.status, attempt: e.attempt, at: e.at, deadLetter: e.deadLetter };
      if (e.route !== undefined) kept.route = e.route;
      if (e.queue !== undefined) kept.queue = e.queue;
      if (e.error !== undefined) kept.error = { class: e.error.class, message: e.error.message.slice(0, MESSAGE_KEPT) };
      held.delete(e.jobId);
      held.set(e.jobId, { event: kept });
      version++;
    } else if (e.status !== 'queued' && held.delete(e.jobId)) {
      // Requeued, or running again (moved back by other means): no longer a dead letter. A dead-lettered
      // event without `deadLetter` (an older worker) can't be placed: its message counts as not accounted for.
      // Not `queued`: the API batches those for up to 100 ms, so a job that fails at once may be read dead-lettered
      // first (a resubmission with the same id is the same job, deduplicated by the API).
      version++;
    }
  }

  return {
    add(event) {
      pending.push(event);
    },
    commit(offset, content) {
      const events = pending;
      pending = [];
      if (restoring) {
        heldBack.push({ events, offset, content });
        return;
      }
      for (const e of events) apply(e);
      position = { offset, anchor: content };
    },
    ready: () => !restoring,
    waitUntilReady(timeoutMs) {
      if (!restoring) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(!restoring);
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        timer.unref();
        waiters.add(done);
      });
    },
    records: () => held.values(),
    size: () => held.size,
    version: () => version,
    position: positionNow,
    offset: () => position?.offset,
    beginRestore() {
      restoring = true;
    },
    load(records, at) {
      held.clear();
      for (const e of records) held.set(e.jobId, { event: e });
      position = at;
      version++;
    },
    replay(event) {
      apply(event);
    },
    finishRestore(at) {
      if (at !== undefined) position = at;
      for (const m of heldBack) {
        if (position !== undefined && m.offset <= position.offset) continue;
        for (const e of m.events) apply(e);
        position = { offset: m.offset, anchor: m.content };
      }
      heldBack = [];
      restoring = false;
      for (const w of [...waiters]) w();
    },
    encode() {
      return encodeDeadLetterCheckpoint(
        (function* () {
          for (const r of held.values()) yield r.event;
        })(),
        positionNow() ?? { offset: 0, anchor: '-' },
      );
    },
  };
}
