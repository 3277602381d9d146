import type { JobEvent } from '../../jobs/job-event.ts';
import { createOldestFirst } from '../../util/oldest-first.ts';
import { DEFAULT_MAX_ATTEMPTS, mergeEvent, newJobRecord, recordFromEvents, toView, type JobRecord } from './job-record.ts';
import type { JobStatusView } from './job-status.ts';

/**
 * The in-memory job status index of one API replica: a bounded cache of job
 * records (the least recently updated forgotten first once `capacity` is
 * reached) over the job-events stream, which holds every job within
 * retention. It is fed by the stream tail (every replica reads the same
 * stream, so every replica converges to the same answer), by this replica's
 * own submits, and by lookups that read a job's events back from the stream
 * (see job-history.ts).
 */
export interface JobStatusIndex {
  /** The view of a held record (complete or not). */
  get(id: string): JobStatusView | undefined;
  /** Name of the API key that submitted the job (from its `queued` event); undefined when unknown or not held. */
  ownerOf(id: string): string | undefined;
  /** True when a record of the job is held (complete or not). */
  has(id: string): boolean;
  /** The held record's view, owner and whether it holds every event of the job. */
  peek(id: string): { view: JobStatusView; owner: string | undefined; complete: boolean } | undefined;
  /**
   * Applies one lifecycle event; events may arrive slightly out of order (see
   * the merge rules). For a job not held, `complete` says whether the event can
   * be its first one; when absent, the index's `mayHaveHistory` decides.
   */
  apply(event: JobEvent, options?: { complete?: boolean }): void;
  /** Marks a held record as possibly missing events (a later read completes it from the stream). */
  markIncomplete(id: string): void;
  /** Starts a lookup of `id` in the stream: from now on its events are also kept for {@link finishLookup}. */
  beginLookup(id: string): void;
  /**
   * Ends a lookup with the job's events read from the stream, in stream order
   * (undefined when the read failed: nothing changes). Installs the record
   * built from them and from the events applied since beginLookup (complete
   * unless `complete` is false: part of the stream was not indexed yet), and
   * returns its view; undefined when there were none.
   */
  finishLookup(id: string, history: readonly JobEvent[] | undefined, complete?: boolean): JobStatusView | undefined;
  /** Calls `listener` with the job's new view after each event that changes it. The record is kept while someone listens. */
  subscribe(id: string, listener: (view: JobStatusView) => void): () => void;
  /** Resolves with the view once `predicate` holds, or with the latest view (possibly undefined) after `timeoutMs`. */
  waitFor(id: string, predicate: (view: JobStatusView) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<JobStatusView | undefined>;
  /** Held records, least recently updated first (listing without a history). */
  records(): IterableIterator<JobRecord>;
  size(): number;
  /** True once the replay of the stream reached the point where this replica started. */
  isCaughtUp(): boolean;
  markCaughtUp(): void;
  /** Resolves true when caught up, false after `timeoutMs`. */
  waitUntilCaughtUp(timeoutMs: number): Promise<boolean>;
}

/** Options of {@link createJobStatusIndex}. */
export interface JobStatusIndexOptions {
  /** Max jobs kept (topology `jobEvents.indexSize`). */
  capacity: number;
  /** Max attempts kept per job (older ones are dropped). @default 50 */
  maxAttempts?: number;
  /**
   * For an event of a job not held: true when the stream may hold earlier
   * events of it (the record then starts incomplete). @default never
   */
  mayHaveHistory?: (id: string) => boolean;
}

/** Creates an empty index. */
export function createJobStatusIndex(options: JobStatusIndexOptions): JobStatusIndex {
  const capacity = options.capacity;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  // A Map iterates in insertion order: re-inserting on update keeps the least recently updated job first.
  const jobs = new Map<string, JobRecord>();
  // Not jobs.keys().next(): that walks every deleted slot at the front of the table, ~50 µs per eviction at 100,000 jobs.
  const evictOldest = createOldestFirst(jobs);
  const listeners = new Map<string, Set<(view: JobStatusView) => void>>();
  // Records someone listens to (SSE, ?wait): an evicted one would come back incomplete from the next event.
  const pinned = new Map<string, JobRecord>();
  const lookups = new Map<string, { count: number; events: JobEvent[] }>();
  let caughtUp = false;
  const caughtUpWaiters = new Set<() => void>();

  function notify(r: JobRecord): void {
    const set = listeners.get(r.id);
    if (set === undefined) return;
    const view = toView(r);
    for (const l of [...set]) l(view);
  }

  function insert(r: JobRecord): void {
    jobs.delete(r.id);
    jobs.set(r.id, r);
    if (listeners.has(r.id)) pinned.set(r.id, r);
    // Bounded by the pinned records: each goes back to the end once.
    for (let guard = pinned.size + 1; jobs.size > capacity && guard >= 0; guard--) {
      const evicted = evictOldest();
      if (evicted === undefined) break;
      const keep = pinned.get(evicted);
      if (keep !== undefined) jobs.set(evicted, keep);
    }
  }

  const index: JobStatusIndex = {
    get(id) {
      const r = jobs.get(id);
      return r === undefined ? undefined : toView(r);
    },
    ownerOf: (id) => jobs.get(id)?.owner,
    has: (id) => jobs.has(id),
    peek(id) {
      const r = jobs.get(id);
      return r === undefined ? undefined : { view: toView(r), owner: r.owner, complete: r.complete };
    },
    apply(e, applyOptions) {
      lookups.get(e.jobId)?.events.push(e);
      let r = jobs.get(e.jobId);
      if (r === undefined) {
        const complete = applyOptions?.complete ?? !(options.mayHaveHistory?.(e.jobId) ?? false);
        r = newJobRecord(e, complete, maxAttempts);
      } else {
        mergeEvent(r, e, maxAttempts);
      }
      insert(r);
      notify(r);
    },
    markIncomplete(id) {
      const r = jobs.get(id);
      if (r !== undefined) r.complete = false;
    },
    beginLookup(id) {
      const l = lookups.get(id);
      if (l) l.count++;
      else lookups.set(id, { count: 1, events: [] });
    },
    finishLookup(id, history, complete = true) {
      const l = lookups.get(id);
      if (l !== undefined && --l.count <= 0) lookups.delete(id);
      if (history === undefined) return index.get(id);
      const r = recordFromEvents([...history, ...(l?.events ?? [])], maxAttempts);
      if (r === undefined) return index.get(id);
      r.complete = complete;
      insert(r);
      notify(r);
      return toView(r);
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (set === undefined) listeners.set(id, (set = new Set()));
      set.add(listener);
      const held = jobs.get(id);
      if (held !== undefined) pinned.set(id, held);
      return () => {
        const s = listeners.get(id);
        if (s === undefined) return;
        s.delete(listener);
        if (s.size === 0) {
          listeners.delete(id);
          pinned.delete(id);
        }
      };
    },
    waitFor(id, predicate, timeoutMs, signal) {
      const now = index.get(id);
      if (now !== undefined && predicate(now)) return Promise.resolve(now);
      return new Promise((resolve) => {
        let latest = now;
        const finish = () => {
          clearTimeout(timer);
          unsubscribe();
          signal?.removeEventListener('abort', finish);
          resolve(latest);
        };
        const unsubscribe = index.subscribe(id, (view) => {
          latest = view;
          if (predicate(view)) finish();
        });
        const timer = setTimeout(finish, Math.max(0, timeoutMs));
        signal?.addEventListener('abort', finish, { once: true });
      });
    },
    records: () => jobs.values(),
    size: () => jobs.size,
    isCaughtUp: () => caughtUp,
    markCaughtUp() {
      if (caughtUp) return;
      caughtUp = true;
      for (const w of [...caughtUpWaiters]) w();
    },
    waitUntilCaughtUp(timeoutMs) {
      if (caughtUp) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          caughtUpWaiters.delete(done);
          resolve(caughtUp);
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        caughtUpWaiters.add(done);
      });
    },
  };
  return index;
}
