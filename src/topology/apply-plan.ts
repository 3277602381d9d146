import type { ManagementClient } from '../broker/management-client.ts';
import { describeStep, executeStep, explainStepError, type ExecutableStep } from './execute-step.ts';
import type { CannotChangeStep, ExtraStep, PlanStep, TopologyPlan } from './plan-step.ts';
import { runLimited } from './run-limited.ts';
import { TopologyApplyError } from './topology-apply-error.ts';
import { TopologyDriftError } from './topology-drift-error.ts';

/** Options of {@link applyPlan}. */
export interface ApplyOptions {
  /** Delete extra warren bindings and warren policies (`warren.q.*`) the file no longer lists. @default false */
  prune?: boolean;
  /** Also delete extra warren queues and exchanges (their messages go with them). Implies prune. @default false */
  pruneQueues?: boolean;
  /** Management API writes in flight at once. @default 8 */
  concurrency?: number;
  /** Called after each step that succeeded (progress output). */
  onStep?: (step: ExecutableStep) => void;
}

/** What an apply did. */
export interface ApplyResult {
  vhost: string;
  /** Steps carried out, in order. */
  done: ExecutableStep[];
  /** Extra objects left on the broker (not pruned). */
  kept: ExtraStep[];
  /** Management API writes made (0 for an applied topology). */
  writes: number;
  durationMs: number;
}

type Phase = (step: PlanStep) => boolean;

/**
 * Apply order: vhost, exchanges, policies, queues, bindings; then prune
 * deletions, bindings first so nothing routes into a queue being removed.
 * Policies go before the queues they match, for two reasons: a new queue
 * gets its DLX / limits at declaration instead of running without them until
 * the end of the apply, and RabbitMQ re-matches every queue of the vhost on
 * each policy write, so 500 policies written after 500 queues took 232 s on
 * RabbitMQ 3.10 against 3 s before them (see /work/notes/readme-topology.md).
 * Steps of one phase are independent and run in parallel.
 */
const PHASES: Phase[] = [
  (s) => s.kind === 'create' && s.object === 'vhost',
  (s) => s.kind === 'create' && s.object === 'exchange',
  (s) => (s.kind === 'create' || s.kind === 'update') && s.object === 'policy',
  (s) => s.kind === 'create' && s.object === 'queue',
  (s) => s.kind === 'create' && s.object === 'binding',
  (s) => s.kind === 'extra' && s.object === 'binding',
  (s) => s.kind === 'extra' && s.object === 'policy',
  (s) => s.kind === 'extra' && s.object === 'queue',
  (s) => s.kind === 'extra' && s.object === 'exchange',
];

/** Which extras an apply with these options deletes. */
export function prunedBy(step: ExtraStep, options: Pick<ApplyOptions, 'prune' | 'pruneQueues'>): boolean {
  const pruneQueues = options.pruneQueues === true;
  const prune = options.prune === true || pruneQueues;
  return step.object === 'queue' || step.object === 'exchange' ? pruneQueues : prune;
}

/** The steps an apply with these options would execute, in execution order. */
export function executableSteps(plan: TopologyPlan, options: Pick<ApplyOptions, 'prune' | 'pruneQueues'> = {}): ExecutableStep[] {
  const selected = plan.steps.filter((s): s is ExecutableStep => s.kind !== 'cannot-change' && (s.kind !== 'extra' || prunedBy(s, options)));
  return PHASES.flatMap((inPhase) => selected.filter(inPhase));
}

/**
 * Executes a plan through the management API. Refuses (applying nothing) when
 * the plan has cannot-change steps. On a failed write, stops after the current
 * phase's in-flight writes and throws a {@link TopologyApplyError} that lists
 * what was done, what failed and what was not attempted.
 */
export async function applyPlan(management: ManagementClient, plan: TopologyPlan, options: ApplyOptions = {}): Promise<ApplyResult> {
  const started = performance.now();
  const blocked = plan.steps.filter((s): s is CannotChangeStep => s.kind === 'cannot-change');
  if (blocked.length > 0) throw new TopologyDriftError(plan.vhost, blocked);

  const steps = executableSteps(plan, options);
  const kept = plan.steps.filter((s): s is ExtraStep => s.kind === 'extra' && !prunedBy(s, options));
  const concurrency = options.concurrency ?? 8;
  const done: ExecutableStep[] = [];

  for (const inPhase of PHASES) {
    const phaseSteps = steps.filter(inPhase);
    if (phaseSteps.length === 0) continue;
    const run = await runLimited(phaseSteps, concurrency, async (step) => {
      await executeStep(management, plan.vhost, step);
      options.onStep?.(step);
    });
    done.push(...run.done);
    if (run.failed.length > 0) {
      const failedSet = new Set<ExecutableStep>(run.failed.map((f) => f.item));
      const doneSet = new Set<ExecutableStep>(done);
      const notAttempted = steps.filter((s) => !doneSet.has(s) && !failedSet.has(s));
      throw new TopologyApplyError(
        plan.vhost,
        {
          done: done.map(describeStep),
          failed: run.failed.map((f) => ({ step: describeStep(f.item), error: explainStepError(f.item, f.error) })),
          notAttempted: notAttempted.map(describeStep),
        },
        run.failed[0]?.error,
      );
    }
  }
  return { vhost: plan.vhost, done, kept, writes: done.length, durationMs: Math.round(performance.now() - started) };
}
