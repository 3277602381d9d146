import { isWarrenError } from '../errors/index.ts';

/** Where a requeue is, for progress bars and log lines. */
export interface RequeueProgress {
  snapshot: number;
  scanned: number;
  moved: number;
  skipped: number;
  failed: number;
}

/** A message that was not moved, and why. */
export interface RequeueNote {
  messageId: string | undefined;
  reason: string;
  detail: string;
}

/** The tally of a requeue. */
export interface RequeueReport {
  queue: string;
  action: 'requeue' | 'drop';
  dryRun: boolean;
  /** Ready messages at start. */
  total: number;
  /** Messages this run reads at most (total, capped at 65,535). */
  snapshot: number;
  scanned: number;
  /** Selected: matched the filters, under the cap, origin known. */
  selected: number;
  /** Delivered to their destination and removed from the DLQ (dry-run: would be). */
  moved: number;
  skipped: { filtered: number; capped: number; unknownOrigin: number; notScanned: number };
  /** Left in the DLQ because the republish failed. */
  failed: number;
  /** DLQ copies of messages an interrupted run had already delivered: removed, not sent again. */
  deduplicated: number;
  /** Messages whose earlier publish had an unknown outcome (process died before the confirm): sent again, may be in the origin twice. */
  possibleDuplicates: number;
  /** Delivered to the origin but the DLQ ack was lost with the connection: the journal drops the DLQ copy on the next run. */
  unacked: number;
  /** Count per destination, e.g. `llm.jobs/llm.standard.chat -> llm.standard`. */
  destinations: Record<string, number>;
  /** First 20 messages left in place for an unknown origin. */
  unknownOrigins: RequeueNote[];
  /** First 20 failures. */
  failures: RequeueNote[];
  /** Dry run: the first 1,000 moves (`messageId -> destination`). */
  plan: Array<{ messageId: string | undefined; reason: string; to: string }>;
  interrupted: boolean;
  /** Why the run stopped early (connection lost ...). */
  error: { code: string; message: string } | undefined;
  eventErrors: number;
  warnings: string[];
  durationMs: number;
  /** Moved per second over the run. */
  rate: number;
  /** Journal file used, if any. */
  journal: string | undefined;
}

/** Notes and plan entries kept in a report; the counters count everything. */
const MAX_NOTES = 20;
const MAX_PLAN = 1000;

/** Counts a requeue as it runs; `report` is the live tally that {@link RequeueTally.finish} completes. */
export interface RequeueTally {
  readonly report: RequeueReport;
  /** A message left in the DLQ because its origin is unknown or not allowed. */
  unknownOrigin(note: RequeueNote): void;
  /** A message left in the DLQ because it could not be sent (or its send failed). */
  failed(note: RequeueNote): void;
  /** A message that reached `label` (or, in a dry run, would) and left the DLQ. */
  moved(label: string): void;
  /** Dry run: one planned move. */
  planned(entry: { messageId: string | undefined; reason: string; to: string }): void;
  /** Tells the caller's `onProgress` where the run is. */
  progress(): void;
  /** Stamps the duration and the rate; returns the report. */
  finish(startedAt: number, now?: number): RequeueReport;
}

/** What a tally starts from. */
export interface RequeueTallyInit {
  queue: string;
  action: 'requeue' | 'drop';
  dryRun: boolean;
  total: number;
  snapshot: number;
  warnings: string[];
  journal: string | undefined;
  onProgress?: ((p: RequeueProgress) => void) | undefined;
}

/** Creates an empty tally. */
export function createRequeueTally(init: RequeueTallyInit): RequeueTally {
  const report: RequeueReport = {
    queue: init.queue,
    action: init.action,
    dryRun: init.dryRun,
    total: init.total,
    snapshot: init.snapshot,
    scanned: 0,
    selected: 0,
    moved: 0,
    skipped: { filtered: 0, capped: 0, unknownOrigin: 0, notScanned: 0 },
    failed: 0,
    deduplicated: 0,
    possibleDuplicates: 0,
    unacked: 0,
    destinations: {},
    unknownOrigins: [],
    failures: [],
    plan: [],
    interrupted: false,
    error: undefined,
    eventErrors: 0,
    warnings: init.warnings,
    durationMs: 0,
    rate: 0,
    journal: init.journal,
  };
  const { onProgress } = init;
  return {
    report,
    unknownOrigin(note) {
      report.skipped.unknownOrigin++;
      if (report.unknownOrigins.length < MAX_NOTES) report.unknownOrigins.push(note);
    },
    failed(note) {
      report.failed++;
      if (report.failures.length < MAX_NOTES) report.failures.push(note);
    },
    moved(label) {
      report.moved++;
      report.destinations[label] = (report.destinations[label] ?? 0) + 1;
    },
    planned(entry) {
      if (report.plan.length < MAX_PLAN) report.plan.push(entry);
    },
    progress() {
      onProgress?.({
        snapshot: report.snapshot,
        scanned: report.scanned,
        moved: report.moved,
        skipped: report.skipped.filtered + report.skipped.capped + report.skipped.unknownOrigin,
        failed: report.failed,
      });
    },
    finish(startedAt, now = performance.now()) {
      report.skipped.notScanned = Math.max(0, report.snapshot - report.scanned);
      report.durationMs = Math.round(now - startedAt);
      report.rate = report.durationMs > 0 ? Math.round((report.moved / report.durationMs) * 1000) : 0;
      return report;
    },
  };
}

/**
 * What a failed publish says in the report. A channel the broker closed fails
 * every publish in flight on it: the broker's own words name the culprit, the
 * publisher's (written per publish, e.g. "exchange '' does not exist") may not.
 */
export function failureDetail(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (isWarrenError(err) && err.code === 'EXCHANGE_NOT_FOUND' && cause instanceof Error) {
    return `the broker closed the publish channel before confirming this message: ${cause.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
