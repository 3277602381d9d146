import { ApiError } from '../api-error.ts';
import type { JobStatusView } from '../status/job-status.ts';
import type { JobStatusIndex } from '../status/job-status-index.ts';

/** What happened to an idempotent request. */
export type GuardResult = { replayed: false } | { replayed: true; view: JobStatusView | undefined };

/** Runs a publish at most once per deterministic job id. */
export interface IdempotencyGuard {
  /**
   * Publishes unless the job already exists: known to the status index (any
   * replica, any time within the index's retention) or being published right
   * now by this replica. Waits for the index replay first, so a restarted
   * replica does not publish a job it simply hasn't read back yet.
   */
  run(id: string, waitMs: number, publish: () => Promise<void>): Promise<GuardResult>;
}

/** Creates the guard over the status index. */
export function createIdempotencyGuard(index: JobStatusIndex): IdempotencyGuard {
  const inFlight = new Map<string, Promise<void>>();
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
      const known = index.get(id);
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
