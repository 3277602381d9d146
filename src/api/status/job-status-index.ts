import type { JobEvent } from '../../jobs/job-event.ts';
import { createOldestFirst } from '../../util/oldest-first.ts';
import { isTerminal, type AttemptView, type JobStatusView } from './job-status.ts';

/**
 * The in-memory job status index of one API replica. It is fed by the
 * job-events stream (every replica replays the same stream, so every replica
 * converges to the same answer) and bounded: the least recently updated jobs
 * are forgotten first once `capacity` is reached.
 */
export interface JobStatusIndex {
  get(id: string): JobStatusView | undefined;
  /** Name of the API key that submitted the job (from its `queued` event); undefined when unknown or not held. */
  ownerOf(id: string): string | undefined;
  /** Applies one lifecycle event; events may arrive slightly out of order (see the merge rules). */
  apply(event: JobEvent): void;
  /** Calls `listener` with the job's new view after each event that changes it. */
  subscribe(id: string, listener: (view: JobStatusView) => void): () => void;
  /** Resolves with the view once `predicate` holds, or with the latest view (possibly undefined) after `timeoutMs`. */
  waitFor(id: string, predicate: (view: JobStatusView) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<JobStatusView | undefined>;
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
}

interface JobRecord {
  id: string;
  /** The submitting key's name: set once, by the first event that carries one (the API's `queued`). */
  owner: string | undefined;
  route: string | undefined;
  queue: string | undefined;
  status: JobEvent['status'];
  /** Attempt of the event that set `status`; older attempts can't override it. */
  statusAttempt: number;
  statusAt: string;
  createdAt: string;
  updatedAt: string;
  /** Sorted by attempt; empty for most queued jobs (no allocation until a worker reports). */
  attempts: AttemptView[];
  result: unknown;
  usage: JobEvent['usage'];
}

// Shared empty list: replaced (never mutated) when the first attempt arrives.
const NO_ATTEMPTS: AttemptView[] = [];

function attemptView(a: AttemptView): AttemptView {
  const view = { ...a };
  // Workers announce `running` only for jobs still running after a delay: a quicker attempt's start is its end minus its duration.
  if (view.startedAt === undefined && view.endedAt !== undefined && view.durationMs !== undefined) {
    const ended = Date.parse(view.endedAt);
    if (Number.isFinite(ended)) view.startedAt = new Date(ended - view.durationMs).toISOString();
  }
  return view;
}

function toView(r: JobRecord): JobStatusView {
  const view: JobStatusView = {
    id: r.id,
    status: r.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    attempts: r.attempts.map(attemptView),
  };
  if (r.route !== undefined) view.route = r.route;
  if (r.queue !== undefined) view.queue = r.queue;
  if (r.result !== undefined) view.result = r.result;
  if (r.usage !== undefined) view.usage = r.usage;
  return view;
}

/**
 * Merge rules, in order:
 * - `queued` (published by the API after the confirm, without blocking the
 *   202) is the first state of every job, so it never replaces another state:
 *   a fast worker's `running` may reach the stream before it.
 * - `requeued` (DLQ tooling, stamped before it republishes) replaces any state
 *   older than itself and starts a new generation: attempt numbers may begin
 *   again. A state newer than the requeue (a worker ran the requeued copy before
 *   the DLQ tool's event arrived) is kept.
 * - any other event sets the status unless it belongs to an older attempt than
 *   the current status (a slow worker's late event after a retry ran elsewhere);
 *   after a final state, any later event does (a requeued copy ran before the
 *   DLQ tool's `requeued` event arrived).
 */
function merge(r: JobRecord, e: JobEvent, maxAttempts: number): void {
  // Ownership never changes hands: only the API writes it, once per job, and a later event can't move a job to another key.
  if (r.owner === undefined && e.owner !== undefined) r.owner = e.owner;
  if (e.route !== undefined) r.route = e.route;
  if (e.queue !== undefined) r.queue = e.queue;
  if (e.at < r.createdAt) r.createdAt = e.at;
  if (e.at > r.updatedAt) r.updatedAt = e.at;

  if (e.status !== 'queued' && e.status !== 'requeued' && e.attempt >= 1) {
    let a = r.attempts.find((x) => x.attempt === e.attempt);
    if (!a) {
      a = { attempt: e.attempt, status: e.status };
      if (r.attempts.length === 0) r.attempts = [a];
      else {
        r.attempts.push(a);
        r.attempts.sort((x, y) => x.attempt - y.attempt);
        if (r.attempts.length > maxAttempts) r.attempts.shift();
      }
    }
    if (e.status === 'running') {
      a.startedAt = e.at;
      if (a.endedAt === undefined) a.status = 'running';
    } else {
      a.status = e.status;
      a.endedAt = e.at;
      if (e.error !== undefined) a.error = e.error;
      if (e.retryInMs !== undefined) a.retryInMs = e.retryInMs;
      if (e.durationMs !== undefined) a.durationMs = e.durationMs;
    }
  }
  if (e.status === 'succeeded') {
    if (e.result !== undefined) r.result = e.result;
    if (e.usage !== undefined) r.usage = e.usage;
  }

  if (e.status === 'queued') return;
  if (e.status === 'requeued') {
    // Only over what happened before the requeue: a worker that already ran the requeued copy wins.
    if (r.statusAt <= e.at) {
      r.status = 'requeued';
      r.statusAttempt = 0;
      r.statusAt = e.at;
    }
    return;
  }
  // After a final state, a later event can only come from a new generation (a requeued copy whose
  // `requeued` event has not arrived yet): its attempt numbers start again.
  if (e.attempt >= r.statusAttempt || (isTerminal(r.status) && e.at > r.statusAt)) {
    r.status = e.status;
    r.statusAttempt = e.attempt;
    r.statusAt = e.at;
  }
}

/** Creates an empty index. */
export function createJobStatusIndex(options: JobStatusIndexOptions): JobStatusIndex {
  const capacity = options.capacity;
  const maxAttempts = options.maxAttempts ?? 50;
  // A Map iterates in insertion order: re-inserting on update keeps the least recently updated job first.
  const jobs = new Map<string, JobRecord>();
  // Not jobs.keys().next(): that walks every deleted slot at the front of the table, ~50 µs per eviction at 100,000 jobs.
  const evictOldest = createOldestFirst(jobs);
  const listeners = new Map<string, Set<(view: JobStatusView) => void>>();
  let caughtUp = false;
  const caughtUpWaiters = new Set<() => void>();

  function notify(r: JobRecord): void {
    const set = listeners.get(r.id);
    if (set === undefined) return;
    const view = toView(r);
    for (const l of [...set]) l(view);
  }

  const index: JobStatusIndex = {
    get(id) {
      const r = jobs.get(id);
      return r === undefined ? undefined : toView(r);
    },
    ownerOf: (id) => jobs.get(id)?.owner,
    apply(e) {
      let r = jobs.get(e.jobId);
      if (r === undefined) {
        r = {
          id: e.jobId,
          owner: undefined,
          route: e.route,
          queue: e.queue,
          status: e.status,
          // queued/requeued are not attempts: a worker's first event must be able to replace them.
          statusAttempt: e.status === 'queued' || e.status === 'requeued' ? 0 : e.attempt,
          statusAt: e.at,
          createdAt: e.at,
          updatedAt: e.at,
          attempts: NO_ATTEMPTS,
          result: undefined,
          usage: undefined,
        };
        merge(r, e, maxAttempts);
        jobs.set(e.jobId, r);
        if (jobs.size > capacity) evictOldest();
      } else {
        merge(r, e, maxAttempts);
        jobs.delete(e.jobId);
        jobs.set(e.jobId, r);
      }
      notify(r);
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (set === undefined) listeners.set(id, (set = new Set()));
      set.add(listener);
      return () => {
        const s = listeners.get(id);
        if (s === undefined) return;
        s.delete(listener);
        if (s.size === 0) listeners.delete(id);
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
