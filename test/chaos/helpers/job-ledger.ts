/** How a job ended, as observed from outside warren. */
export type FinishOutcome = 'succeeded' | 'dead-lettered';

/** Counts of one scenario; `lost` must be 0 for the scenario to pass. */
export interface LedgerReport {
  /** Jobs the API answered 2xx for. */
  accepted: number;
  /** Accepted jobs seen finished (succeeded or dead-lettered) at least once. */
  finished: number;
  /** Of `finished`: ended succeeded / dead-lettered (by their last observation). */
  succeeded: number;
  deadLettered: number;
  /**
   * Extra observations of the same outcome, summed over jobs: a job that succeeded twice was run twice
   * (at-least-once redelivery). Dead-lettered then succeeded after a requeue is `recovered`, not a duplicate.
   */
  duplicates: number;
  /** Jobs seen dead-lettered and later succeeded (requeued from the DLQ). */
  recovered: number;
  /** Job ids with more than one finish observation. */
  duplicateIds: string[];
  /** Accepted jobs never seen finished. */
  lost: number;
  lostIds: string[];
  /** Jobs the API refused (non-2xx) as their last answer, by `status` or `status:code`. */
  rejected: Record<string, number>;
  /**
   * Refused jobs that were processed anyway, as `id status:code`. Must be empty for definitive refusals
   * (`503:PUBLISH_REJECTED` says nothing was queued); a 503 after a lost confirm says "may not be stored".
   */
  rejectedButProcessed: string[];
  /** Requests with no HTTP answer (connection dropped): their fate is unknown to the client. */
  indeterminate: number;
  /** Of `indeterminate`: seen finished (the broker had them before the API died). */
  indeterminateFinished: number;
  /** Finish observations of ids this ledger never submitted (another test's traffic, or a bug). */
  unknownFinished: number;
}

/**
 * Job accounting of a failure scenario: every submitted job id with what the API
 * answered, and every time the job was seen finished. "Lost" is the only failure:
 * an accepted job that never finished. Duplicates are legal under at-least-once
 * delivery and are counted so the report can explain them.
 */
export interface JobLedger {
  /** The API answered 2xx: warren owes this job an outcome. */
  accepted(jobId: string): void;
  /** The API answered an error status (with its error code, e.g. PUBLISH_REJECTED). */
  rejected(jobId: string, status: number, code?: string): void;
  /** The request got no answer (socket closed, timeout): nothing is owed, but it may run. */
  indeterminate(jobId: string): void;
  /** The job was seen finished once more. */
  finished(jobId: string, outcome: FinishOutcome): void;
  /** Accepted jobs not yet seen finished. */
  pending(): number;
  /** Times a job was seen finished (0 if never). */
  finishCount(jobId: string): number;
  acceptedIds(): string[];
  report(): LedgerReport;
}

/** Creates an empty ledger. */
export function createJobLedger(): JobLedger {
  const accepted = new Set<string>();
  const rejected = new Map<string, string>();
  const indeterminate = new Set<string>();
  const finishes = new Map<string, FinishOutcome[]>();
  let pending = 0;

  const submitted = (id: string) => accepted.has(id) || rejected.has(id) || indeterminate.has(id);

  return {
    accepted(jobId) {
      if (accepted.has(jobId)) return;
      // A retried request that finally got 2xx supersedes an earlier unknown answer.
      indeterminate.delete(jobId);
      rejected.delete(jobId);
      accepted.add(jobId);
      if (!finishes.has(jobId)) pending += 1;
    },
    rejected(jobId, status, code) {
      if (accepted.has(jobId)) return;
      rejected.set(jobId, code === undefined ? String(status) : `${status}:${code}`);
    },
    indeterminate(jobId) {
      if (accepted.has(jobId)) return;
      indeterminate.add(jobId);
    },
    finished(jobId, outcome) {
      const seen = finishes.get(jobId);
      if (seen) {
        seen.push(outcome);
        return;
      }
      finishes.set(jobId, [outcome]);
      // A finish can be observed before the client recorded the 2xx; accepted() then skips the increment.
      if (accepted.has(jobId)) pending -= 1;
    },
    pending: () => pending,
    finishCount: (jobId) => finishes.get(jobId)?.length ?? 0,
    acceptedIds: () => [...accepted],
    report(): LedgerReport {
      let finished = 0;
      let succeeded = 0;
      let deadLettered = 0;
      let duplicates = 0;
      let recovered = 0;
      const duplicateIds: string[] = [];
      const lostIds: string[] = [];
      for (const id of accepted) {
        const seen = finishes.get(id);
        if (!seen || seen.length === 0) {
          lostIds.push(id);
          continue;
        }
        finished += 1;
        if (seen[seen.length - 1] === 'succeeded') succeeded += 1;
        else deadLettered += 1;
      }
      for (const [id, seen] of finishes) {
        if (!submitted(id)) continue;
        const succeededTimes = seen.filter((o) => o === 'succeeded').length;
        const deadTimes = seen.length - succeededTimes;
        const extra = Math.max(0, succeededTimes - 1) + Math.max(0, deadTimes - 1);
        if (extra > 0) {
          duplicates += extra;
          duplicateIds.push(id);
        }
        if (deadTimes > 0 && seen[seen.length - 1] === 'succeeded') recovered += 1;
      }
      const unknownFinished = [...finishes.keys()].filter((id) => !submitted(id)).length;
      const rejectedCounts: Record<string, number> = {};
      for (const status of rejected.values()) rejectedCounts[status] = (rejectedCounts[status] ?? 0) + 1;
      const rejectedButProcessed = [...rejected.entries()].filter(([id]) => finishes.has(id)).map(([id, label]) => `${id} ${label}`);
      const indeterminateFinished = [...indeterminate].filter((id) => finishes.has(id)).length;
      return {
        accepted: accepted.size,
        finished,
        succeeded,
        deadLettered,
        duplicates,
        duplicateIds,
        recovered,
        lost: lostIds.length,
        lostIds,
        rejected: rejectedCounts,
        rejectedButProcessed,
        indeterminate: indeterminate.size,
        indeterminateFinished,
        unknownFinished,
      };
    },
  };
}

/** One line per scenario: `scenario: accepted 500 / finished 500 / duplicates 3 / lost 0 (...)`. */
export function formatReport(scenario: string, r: LedgerReport): string {
  const extra: string[] = [];
  if (r.deadLettered > 0) extra.push(`${r.succeeded} succeeded, ${r.deadLettered} dead-lettered`);
  if (r.recovered > 0) extra.push(`${r.recovered} recovered from the DLQ`);
  const rejected = Object.entries(r.rejected);
  if (rejected.length > 0) extra.push(`rejected ${rejected.map(([s, n]) => `${n}x${s}`).join(', ')}`);
  if (r.rejectedButProcessed.length > 0) extra.push(`REJECTED BUT PROCESSED ${r.rejectedButProcessed.length}`);
  if (r.indeterminate > 0) extra.push(`no answer ${r.indeterminate} (${r.indeterminateFinished} ran)`);
  if (r.unknownFinished > 0) extra.push(`unknown finished ${r.unknownFinished}`);
  const tail = extra.length > 0 ? ` (${extra.join('; ')})` : '';
  return `${scenario}: accepted ${r.accepted} / finished ${r.finished} / duplicates ${r.duplicates} / lost ${r.lost}${tail}`;
}
