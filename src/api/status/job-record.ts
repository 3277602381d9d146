import type { JobEvent } from '../../jobs/job-event.ts';
import { isTerminal, type AttemptView, type JobStatusView } from './job-status.ts';

/** Attempts kept per job by default (older ones are dropped). */
export const DEFAULT_MAX_ATTEMPTS = 50;

/** What the index holds of one job; built by applying its events in stream order with {@link mergeEvent}. */
export interface JobRecord {
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
  /**
   * False when the record may lack earlier events of the job: it was started
   * by an event read after the replica's history began, for a job the history
   * says may have older events (evicted from the cache, or created before the
   * boot window). Such a record is completed from the stream before it is shown.
   */
  complete: boolean;
  /** While `status` is `blocked`: the job that blocks it (ordered routes). */
  blockedBy?: string;
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

/** The public view of a record. */
export function toView(r: JobRecord): JobStatusView {
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
  if (r.status === 'blocked' && r.blockedBy !== undefined) view.blockedBy = r.blockedBy;
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
export function mergeEvent(r: JobRecord, e: JobEvent, maxAttempts: number): void {
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
      // The event that ends an attempt says all of its outcome: after a requeue the numbers start again, and attempt 1
      // that succeeded must not keep the error of the attempt 1 that was dead-lettered before.
      a.status = e.status;
      a.endedAt = e.at;
      if (e.error !== undefined) a.error = e.error;
      else delete a.error;
      if (e.retryInMs !== undefined) a.retryInMs = e.retryInMs;
      else delete a.retryInMs;
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
    if (e.status === 'blocked' && e.blockedBy !== undefined) r.blockedBy = e.blockedBy;
  }
}

/** A record started by `e` (merged), marked complete or not. */
export function newJobRecord(e: JobEvent, complete: boolean, maxAttempts: number = DEFAULT_MAX_ATTEMPTS): JobRecord {
  const r: JobRecord = {
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
    complete,
  };
  mergeEvent(r, e, maxAttempts);
  return r;
}

/** The record of a job from its events in stream order (undefined for none). */
export function recordFromEvents(events: readonly JobEvent[], maxAttempts: number = DEFAULT_MAX_ATTEMPTS): JobRecord | undefined {
  let r: JobRecord | undefined;
  for (const e of events) {
    if (r === undefined) r = newJobRecord(e, true, maxAttempts);
    else mergeEvent(r, e, maxAttempts);
  }
  return r;
}
