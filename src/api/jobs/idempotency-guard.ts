import { ApiError } from '../api-error.ts';
import type { JobStatusView } from '../status/job-status.ts';
import { JobHistoryError } from '../status/history-errors.ts';
import type { JobHistory } from '../status/job-history.ts';
import type { JobStatusIndex } from '../status/job-status-index.ts';

/** What happened to an idempotent request. */
export type GuardResult = { replayed: false } | { replayed: true; view: JobStatusView | undefined };

/** Runs a publish at most once per deterministic job id. */
export interface IdempotencyGuard {
  /**
   * Publishes unless the job already exists: anywhere in the job-events stream
   * (any replica, any time within the stream's retention: the history looks
   * the id up when the index does not hold it) or being published right now
   * by this replica. Waits for the replica's replay first, and for the
   * history's indexing of a part it has not indexed yet, so a restarted replica
   * does not publish a job it simply hasn't read back yet.
   */
  run(id: string, waitMs: number, publish: () => Promise<void>): Promise<GuardResult>;
}

/** Creates the guard over the status index and, when given, the job history behind it. */
export function createIdempotencyGuard(index: JobStatusIndex, history?: JobHistory): IdempotencyGuard {
  const inFlight = new Map<string, Promise<void>>();

  /** The existing job, or undefined; waits (up to `waitMs`) for a history that is still indexing. */
  async function existing(id: string, waitMs: number): Promise<JobStatusView | undefined> {
    if (history === undefined) return index.get(id);
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const found = await history.find(id);
        return found.found ? found.view : undefined;
      } catch (err) {
        const left = deadline - Date.now();
        if (!(err instanceof JobHistoryError) || err.code === 'STATUS_HISTORY_UNAVAILABLE' || left <= 0) throw err;
        if (err.code === 'STATUS_HISTORY_INDEXING') await history.waitUntilIndexed(left);
        else await index.waitUntilCaughtUp(left);
      }
    }
  }

  return {
    async run(id, waitMs, publish) {
      const running = inFlight.get(id);
      if (running !== undefined) {
        await running;
        return { replayed: true, view: index.get(id) };
      }
      if (!index.isCaughtUp() && !(await index.waitUntilCaughtUp(waitMs))) {
        throw new ApiError(503, 'STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly', {
          headers: { 'retry-after': '1' },
        });
      }
      const known = await existing(id, waitMs);
      if (known !== undefined) return { replayed: true, view: known };
      // Checked again: another request with the same key may have started while we waited.
      const again = inFlight.get(id);
      if (again !== undefined) {
        await again;
        return { replayed: true, view: index.get(id) };
      }
      const p = publish();
      inFlight.set(id, p);
      try {
        await p;
      } finally {
        inFlight.delete(id);
      }
      return { replayed: false };
    },
  };
}
