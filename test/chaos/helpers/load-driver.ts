import { setTimeout as sleep } from 'node:timers/promises';
import type { JobLedger } from './job-ledger.ts';

/** What one submission got back from the API. */
export type SubmitResult =
  | { kind: 'accepted'; jobId: string; status: number }
  | { kind: 'rejected'; status: number; jobId?: string; retryAfter?: string; code?: string; message?: string }
  | { kind: 'no-answer'; error: string };

/** Submits job number `seq` (with a client key unique to it); never throws. */
export type Submit = (seq: number, clientKey: string) => Promise<SubmitResult>;

/** Options of {@link runLoad}. */
export interface LoadOptions {
  submit: Submit;
  ledger: JobLedger;
  /** Jobs started per second (open-loop: a slow API does not lower the offered rate, up to `maxInFlight`). */
  ratePerSecond: number;
  /** Stop after this many jobs. */
  total?: number;
  /** Stop after this long. */
  durationMs?: number;
  /** Requests allowed in flight at once; beyond it the driver waits. @default 64 */
  maxInFlight?: number;
  /** Prefix of the client keys (`<prefix>-<seq>`). @default job */
  keyPrefix?: string;
  /** Called with the answer of every attempt (1-based), retries included. */
  onAttempt?: (seq: number, clientKey: string, result: SubmitResult, attempt: number) => void;
  /** Called once with each final result (latency measurements, logs). */
  onResult?: (seq: number, result: SubmitResult, elapsedMs: number) => void;
  /** Stops early when it resolves/aborts. */
  signal?: AbortSignal;
  /**
   * Retries of a request that got no answer (or whatever `retryOn` says), with the same client key:
   * what a client with an Idempotency-Key does when the API died mid-request. @default 0
   */
  retries?: number;
  /** Which results are retried. @default only `no-answer` */
  retryOn?: (result: SubmitResult) => boolean;
  /** Wait before each retry (at least the answer's Retry-After). @default 500 */
  retryDelayMs?: number;
}

/** Tally of one load run. */
export interface LoadSummary {
  submitted: number;
  accepted: number;
  rejected: number;
  noAnswer: number;
  /** Requests sent again (after no answer, or what `retryOn` selected). */
  retried: number;
  /** First answers by kind and status/code, before retries, e.g. `{ '202': 900, '503:PUBLISH_TIMEOUT': 40, 'no-answer': 3 }`. */
  firstAnswers: Record<string, number>;
  elapsedMs: number;
}

/**
 * Drives a steady rate of submissions and records every answer in the ledger:
 * 2xx -> accepted (warren owes an outcome), an error status -> rejected, no
 * answer (the API died mid-request) -> indeterminate.
 */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  if (options.total === undefined && options.durationMs === undefined) throw new Error('runLoad needs total or durationMs');
  const maxInFlight = options.maxInFlight ?? 64;
  const prefix = options.keyPrefix ?? 'job';
  const intervalMs = 1000 / options.ratePerSecond;
  const started = performance.now();
  const summary: LoadSummary = { submitted: 0, accepted: 0, rejected: 0, noAnswer: 0, retried: 0, firstAnswers: {}, elapsedMs: 0 };
  const retryOn = options.retryOn ?? ((r: SubmitResult) => r.kind === 'no-answer');
  const inFlight = new Set<Promise<void>>();

  const finishedByLimit = () =>
    (options.total !== undefined && summary.submitted >= options.total) ||
    (options.durationMs !== undefined && performance.now() - started >= options.durationMs) ||
    options.signal?.aborted === true;

  while (!finishedByLimit()) {
    // Schedule against the start time so timer drift does not lower the rate.
    const due = started + summary.submitted * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (finishedByLimit()) break;
    const seq = summary.submitted;
    summary.submitted += 1;
    const clientKey = `${prefix}-${seq}`;
    const t0 = performance.now();
    const once = () => options.submit(seq, clientKey).catch((err: unknown): SubmitResult => ({ kind: 'no-answer', error: (err as Error).message }));
    const withRetries = async (): Promise<SubmitResult> => {
      let result = await once();
      options.onAttempt?.(seq, clientKey, result, 1);
      const label = answerLabel(result);
      summary.firstAnswers[label] = (summary.firstAnswers[label] ?? 0) + 1;
      for (let i = 0; i < (options.retries ?? 0) && retryOn(result); i++) {
        summary.retried += 1;
        // A well-behaved client waits at least what Retry-After asks.
        const asked = result.kind === 'rejected' && result.retryAfter !== undefined ? Number(result.retryAfter) * 1000 : 0;
        await sleep(Math.max(options.retryDelayMs ?? 500, Number.isFinite(asked) ? asked : 0));
        result = await once();
        options.onAttempt?.(seq, clientKey, result, i + 2);
      }
      return result;
    };
    const p = withRetries()
      .then((result) => {
        record(options.ledger, clientKey, result, summary);
        options.onResult?.(seq, result, performance.now() - t0);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  summary.elapsedMs = performance.now() - started;
  return summary;
}

function record(ledger: JobLedger, clientKey: string, result: SubmitResult, summary: LoadSummary): void {
  switch (result.kind) {
    case 'accepted':
      summary.accepted += 1;
      ledger.accepted(result.jobId);
      break;
    case 'rejected':
      summary.rejected += 1;
      ledger.rejected(result.jobId ?? clientKey, result.status, result.code);
      break;
    case 'no-answer':
      summary.noAnswer += 1;
      ledger.indeterminate(clientKey);
      break;
  }
}

/** `202`, `503:PUBLISH_REJECTED`, `no-answer`: how answers are tallied. */
export function answerLabel(result: SubmitResult): string {
  if (result.kind === 'no-answer') return 'no-answer';
  if (result.kind === 'rejected' && result.code !== undefined) return `${result.status}:${result.code}`;
  return String(result.status);
}
