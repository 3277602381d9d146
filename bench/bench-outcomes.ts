/**
 * What each benchmark of `npm run bench` ended with, and whether the round passed: one place that turns
 * every bench's own result (its figures and its own pass flag) into the report's rows, so no verdict is
 * dropped on the way (the API bench fails a round with errors even when every figure met its target) and
 * nothing that could not be measured silently disappears from the report.
 */
import type { ApiBenchResult } from './api-bench.ts';
import type { DlqBenchResult } from './dlq-bench.ts';
import type { BenchFigure } from './figures.ts';
import type { TopologyBenchResult } from './topology-bench.ts';
import type { WorkerBenchResult } from './worker-bench.ts';

/** One benchmark's outcome. */
export interface BenchOutcome {
  name: string;
  figures: BenchFigure[];
  /** False when the bench's own verdict failed, a figure missed its target or was not measured, or the bench threw. */
  pass: boolean;
  /** Why it failed beyond a figure's missed target: not measured, errors in a round, an exception. */
  problems: string[];
  durationMs: number;
}

/** A bench's figures and verdict, before it is named and timed. */
export type BenchVerdict = Pick<BenchOutcome, 'figures' | 'pass' | 'problems'>;

/**
 * Combines a bench's figures with its own pass flag: the verdict fails when either does, and a failing flag
 * that no figure explains is named as a problem (`unexplained`), so the report never shows "all met" beside a
 * failed bench.
 */
export function verdict(figures: BenchFigure[], benchPass: boolean, problems: string[] = [], unexplained = 'the benchmark reported a failure that no figure shows (see its log)'): BenchVerdict {
  const all = [...problems];
  if (!benchPass && all.length === 0 && figures.every((f) => f.pass)) all.push(unexplained);
  return { figures, pass: benchPass && all.length === 0 && figures.every((f) => f.pass), problems: all };
}

/** Topology plan/apply: its pass flag also covers the plan against the empty vhost, shown as a figure here. */
export function topologyVerdict(r: TopologyBenchResult): BenchVerdict {
  const t = r.targets;
  const figures: BenchFigure[] = [
    { group: 'topology', name: 'plan, empty vhost', unit: 'ms', value: r.planEmptyMs, target: `< ${t.planMs} ms`, pass: r.planEmptyMs < t.planMs, higherIsBetter: false },
    { group: 'topology', name: `plan, ${r.queues} queues + ${r.bindings} bindings applied`, unit: 'ms', value: r.planAppliedMs, target: `< ${t.planMs} ms`, pass: r.planAppliedMs < t.planMs, higherIsBetter: false },
    { group: 'topology', name: 'plan as a new CLI process', unit: 'ms', value: r.planProcessMs, target: `< ${t.planMs} ms`, pass: r.planProcessMs < t.planMs, higherIsBetter: false },
    { group: 'topology', name: 'no-op apply', unit: 'ms', value: r.noopApplyMs, target: `< ${t.noopApplyMs} ms`, pass: r.noopApplyMs < t.noopApplyMs, higherIsBetter: false },
    { group: 'topology', name: `apply from scratch (${r.applyWrites} writes)`, unit: 'ms', value: r.applyFromScratchMs, target: 'informational', pass: true, higherIsBetter: false },
  ];
  return verdict(figures, r.pass);
}

/** Publish API: a round with HTTP errors or a queue-count mismatch fails the bench even when every figure met its target. */
export function apiVerdict(r: Pick<ApiBenchResult, 'figures' | 'pass'>): BenchVerdict {
  return verdict(r.figures, r.pass, [], 'errors or a queue-count mismatch in some round (the figures were measured anyway; see the log)');
}

/**
 * Workers: BullMQ is part of part (a)'s comparison, so a run without it (no Redis, packages missing) shows a
 * "not measured" row and fails, instead of dropping the row.
 */
export function workerVerdict(r: Pick<WorkerBenchResult, 'figures' | 'pass' | 'throughput'>): BenchVerdict {
  const figures = [...r.figures];
  const problems: string[] = [];
  const t = r.throughput;
  if (t !== null && t.bullmqPerSec === null) {
    const why = t.bullmqNote ?? 'no BullMQ figure';
    problems.push(`BullMQ not measured: ${why}`);
    figures.push({ group: 'worker', name: `instant handler vs BullMQ (not measured: ${why})`, unit: 'jobs/s', value: Number.NaN, target: '>= 2x reference', pass: false });
  }
  return verdict(figures, r.pass, problems);
}

/**
 * DLQ requeue against the management UI's "Move messages" shovel (measured in the same run); the bare
 * one-at-a-time loop and a baseline checkout's requeue, when run, are informational rows.
 */
export function dlqVerdict(r: DlqBenchResult): BenchVerdict {
  const what = `${r.messages.toLocaleString('en-US')} dead letters (${r.queueType}, median of ${r.rounds} round${r.rounds === 1 ? '' : 's'})`;
  const figures: BenchFigure[] = [
    {
      group: 'dlq',
      name: `requeue of ${what}`,
      unit: 'msg/s',
      value: r.warren.perSecond,
      reference: r.shovel.perSecond,
      referenceName: 'management UI "Move messages" shovel (ack-mode on-confirm)',
      referenceKind: 'measured',
      target: `>= ${Math.round(r.target * 100)}% of reference`,
      pass: r.pass,
    },
    {
      group: 'dlq',
      name: `bare get / publish-confirm / ack, one at a time (${r.bare.messages.toLocaleString('en-US')} messages)`,
      unit: 'msg/s',
      value: r.bare.perSecond,
      target: 'informational',
      pass: true,
    },
  ];
  if (r.baseline) {
    figures.push({
      group: 'dlq',
      name: `requeue of ${what}, baseline checkout ${r.baseline.source}`,
      unit: 'msg/s',
      value: r.baseline.perSecond,
      reference: r.shovel.perSecond,
      referenceName: 'management UI "Move messages" shovel (ack-mode on-confirm)',
      referenceKind: 'measured',
      target: 'informational',
      pass: true,
    });
  }
  return verdict(figures, r.pass);
}

/** Runs one bench and names and times its outcome; a bench that throws is a failed outcome with the error. */
export async function runBench(name: string, run: () => Promise<BenchVerdict>, now: () => number = Date.now): Promise<BenchOutcome> {
  const t0 = now();
  try {
    const v = await run();
    return { name, ...v, durationMs: now() - t0 };
  } catch (err) {
    return { name, figures: [], pass: false, problems: [`failed: ${(err as Error).message}`], durationMs: now() - t0 };
  }
}

/** The round passed when at least one bench ran and every one passed. */
export function roundPassed(outcomes: readonly BenchOutcome[]): boolean {
  return outcomes.length > 0 && outcomes.every((o) => o.pass);
}
