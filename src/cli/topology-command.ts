import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedTopology } from '../config/load-topology.ts';
import { WarrenError } from '../errors/index.ts';
import {
  applyPlan,
  desiredState,
  describeStep,
  executableSteps,
  exportDefinitions,
  formatPlan,
  planTopology,
  prunedBy,
  readActualState,
  summarizePlan,
  type ApplyOptions,
  type DesiredState,
  type ExtraStep,
  type TopologyPlan,
} from '../topology/index.ts';
import { EXIT, knownSchemaNames, type CliContext } from './cli-context.ts';

interface PruneFlags {
  prune?: boolean;
  pruneQueues?: boolean;
}

interface ApplyFlags extends PruneFlags {
  yes?: boolean;
  dryRun?: boolean;
  concurrency?: string;
}

function pruneOptions(flags: PruneFlags): Pick<ApplyOptions, 'prune' | 'pruneQueues'> {
  return { prune: flags.prune === true || flags.pruneQueues === true, pruneQueues: flags.pruneQueues === true };
}

function counts(desired: DesiredState): Record<string, number> {
  return {
    exchanges: desired.exchanges.length,
    queues: desired.queues.length,
    bindings: desired.bindings.length,
    policies: desired.policies.length,
  };
}

/** Exit code of a plan: 3 when apply would refuse, 2 when it would change something, 0 when in sync. */
export function planExitCode(plan: TopologyPlan, flags: PruneFlags): number {
  if (plan.steps.some((s) => s.kind === 'cannot-change')) return EXIT.drift;
  return executableSteps(plan, pruneOptions(flags)).length > 0 ? EXIT.changesPending : EXIT.ok;
}

/** The plan as `--json` prints it: every step with a readable description. */
export function planJson(plan: TopologyPlan, loaded: LoadedTopology, managementUrl: string, flags: PruneFlags): Record<string, unknown> {
  const opts = pruneOptions(flags);
  return {
    vhost: plan.vhost,
    file: loaded.file,
    management: managementUrl,
    inSync: plan.steps.length === 0,
    summary: summarizePlan(plan),
    steps: plan.steps.map((s) => ({ description: describeStep(s), ...(s.kind === 'extra' ? { willDelete: prunedBy(s, opts) } : {}), ...s })),
    warnings: plan.warnings,
  };
}

async function makePlan(ctx: CliContext, cmd: Command): Promise<{ loaded: LoadedTopology; plan: TopologyPlan; managementUrl: string; management: ReturnType<CliContext['management']> }> {
  // Plan and apply only touch the broker; missing handler files are `validate`'s business.
  const loaded = ctx.loadTopology(cmd, { checkHandlers: false });
  const management = ctx.management(loaded.topology);
  const desired = desiredState(loaded.topology);
  const actual = await readActualState(management, desired.vhost);
  return { loaded, plan: planTopology(desired, actual, { file: ctx.globals(cmd).file }), managementUrl: management.displayUrl, management };
}

function header(plan: TopologyPlan, managementUrl: string, file: string): string {
  return `Plan for vhost '${plan.vhost}' on ${managementUrl} from ${file}:`;
}

function describeDeletions(steps: ExtraStep[]): string {
  return steps
    .map((s) => (s.object === 'queue' && s.queue.messages !== undefined ? `${s.object} '${s.name}' (${s.queue.messages} messages)` : `${s.object} '${s.name}'`))
    .join(', ');
}

async function validateAction(ctx: CliContext, cmd: Command): Promise<void> {
  const { file, json } = ctx.globals(cmd);
  // consumers/ beside the file, as the loader looks for handlers there.
  const loaded = ctx.loadTopology(cmd, { checkHandlers: true, schemaNames: knownSchemaNames(join(dirname(resolve(file)), 'consumers')) });
  const t = loaded.topology;
  const desired = desiredState(t);
  const waitQueues = desired.queues.filter((q) => q.role === 'retry-wait').length;
  const summary = {
    exchanges: Object.keys(t.exchanges).length,
    queues: Object.keys(t.queues).length,
    retryWaitQueues: waitQueues,
    bindings: t.bindings.length,
    retryPolicies: Object.keys(t.retryPolicies).length,
    routes: Object.keys(t.routes).length,
    consumers: Object.keys(t.consumers).length,
  };
  if (json) {
    ctx.printJson({ valid: true, file: loaded.file, vhost: t.connection.vhost, summary, broker: counts(desired) });
    return;
  }
  ctx.print(
    `${file} is valid: ${summary.exchanges} exchanges, ${summary.queues} queues (+${waitQueues} retry wait queues), ${summary.bindings} bindings, ` +
      `${summary.retryPolicies} retry policies, ${summary.routes} routes, ${summary.consumers} consumers.`,
  );
}

async function planAction(ctx: CliContext, cmd: Command, flags: PruneFlags): Promise<void> {
  const { file, json } = ctx.globals(cmd);
  const { loaded, plan, managementUrl } = await makePlan(ctx, cmd);
  if (json) ctx.printJson(planJson(plan, loaded, managementUrl, flags));
  else ctx.print(`${header(plan, managementUrl, file)}\n${formatPlan(plan, { ...pruneOptions(flags), color: ctx.color, file })}`);
  ctx.exitCode = planExitCode(plan, flags);
}

async function applyAction(ctx: CliContext, cmd: Command, flags: ApplyFlags): Promise<void> {
  const { file, json } = ctx.globals(cmd);
  const opts = pruneOptions(flags);
  const { loaded, plan, managementUrl, management } = await makePlan(ctx, cmd);
  if (!json) ctx.print(`${header(plan, managementUrl, file)}\n${formatPlan(plan, { ...opts, color: ctx.color, file })}`);

  if (flags.dryRun === true) {
    if (json) ctx.printJson({ dryRun: true, ...planJson(plan, loaded, managementUrl, flags) });
    else ctx.print('Dry run: nothing applied.');
    ctx.exitCode = planExitCode(plan, flags);
    return;
  }

  const destructive = plan.steps.filter((s): s is ExtraStep => s.kind === 'extra' && (s.object === 'queue' || s.object === 'exchange') && prunedBy(s, opts));
  const blocked = plan.steps.some((s) => s.kind === 'cannot-change');
  if (destructive.length > 0 && !blocked && flags.yes !== true) {
    const what = describeDeletions(destructive);
    if (ctx.io.confirm === undefined) {
      throw new WarrenError(
        'CONFIRMATION_REQUIRED',
        `apply --prune-queues would delete ${what} from vhost '${plan.vhost}', with any messages in them. There is no terminal to confirm on: run again with --yes to confirm. Nothing was applied.`,
      );
    }
    if (!(await ctx.io.confirm(`Delete ${what} from vhost '${plan.vhost}'? Their messages are lost.`))) {
      ctx.io.stderr.write('Aborted: nothing was applied.\n');
      ctx.exitCode = EXIT.error;
      return;
    }
  }

  const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
    throw new WarrenError('INVALID_OPTION', `--concurrency must be an integer from 1 to 64 (got '${flags.concurrency ?? ''}')`);
  }
  const result = await applyPlan(management, plan, { ...opts, ...(concurrency === undefined ? {} : { concurrency }) });
  if (json) {
    ctx.printJson({
      ...planJson(plan, loaded, managementUrl, flags),
      applied: { writes: result.writes, durationMs: result.durationMs, done: result.done.map(describeStep), kept: result.kept.map(describeStep) },
    });
    return;
  }
  if (result.writes === 0) ctx.print(`Nothing to apply: vhost '${plan.vhost}' already matches ${file}.`);
  else ctx.print(`Applied ${result.writes} change${result.writes === 1 ? '' : 's'} to vhost '${plan.vhost}' in ${(result.durationMs / 1000).toFixed(1)} s.`);
  if (result.kept.length > 0) ctx.print(`Kept ${result.kept.length} extra object${result.kept.length === 1 ? '' : 's'} warren created earlier (see '-' lines; --prune / --prune-queues delete them).`);
}

async function exportAction(ctx: CliContext, cmd: Command, flags: { out?: string }): Promise<void> {
  const { json } = ctx.globals(cmd);
  const loaded = ctx.loadTopology(cmd, { checkHandlers: false });
  const desired = desiredState(loaded.topology);
  const definitions = exportDefinitions(desired);
  const text = `${JSON.stringify(definitions, null, 2)}\n`;
  if (flags.out === undefined) {
    ctx.io.stdout.write(text);
    return;
  }
  try {
    writeFileSync(flags.out, text);
  } catch (err) {
    throw new WarrenError('EXPORT_WRITE_FAILED', `can't write definitions to ${flags.out}: ${(err as Error).message}`, { cause: err });
  }
  if (json) ctx.printJson({ file: flags.out, vhost: desired.vhost, ...counts(desired) });
  else {
    const c = counts(desired);
    ctx.print(
      `Wrote definitions of vhost '${desired.vhost}' (${c.exchanges} exchanges, ${c.queues} queues, ${c.bindings} bindings, ${c.policies} policies) to ${flags.out}.\n` +
        `Load them with: rabbitmqctl import_definitions ${flags.out}  (import adds objects but never updates existing ones; use 'warren topology apply' for that)`,
    );
  }
}

/** `warren topology validate | plan | apply | export`. */
export function registerTopologyCommand(program: Command, ctx: CliContext): void {
  const topology = program
    .command('topology')
    .description('validate topology.yaml, show what would change on the broker, apply it, export definitions');

  topology
    .command('validate')
    .description('check the file (schema, references, handlers) without touching the broker')
    .action(async (_flags: object, cmd: Command) => validateAction(ctx, cmd));

  topology
    .command('plan')
    .description('show the changes apply would make: + create, ~ update in place, ! cannot change, - extra on the broker (exit 0 in sync, 2 changes pending, 3 blocked)')
    .option('--prune', 'count extra warren bindings and policies as changes (what apply --prune deletes)')
    .option('--prune-queues', 'also count extra warren queues and exchanges')
    .action(async (flags: PruneFlags, cmd: Command) => planAction(ctx, cmd, flags));

  topology
    .command('apply')
    .description('make the broker match the file (idempotent; refuses what RabbitMQ cannot change in place)')
    .option('--prune', 'delete warren bindings and policies the file no longer lists')
    .option('--prune-queues', 'also delete warren queues and exchanges the file no longer lists (asks first; implies --prune)')
    .option('-y, --yes', 'confirm --prune-queues without asking (needed without a terminal)')
    .option('--dry-run', 'print the plan and stop (same exit codes as plan)')
    .option('--concurrency <n>', 'management API writes in flight (default 8)')
    .action(async (flags: ApplyFlags, cmd: Command) => applyAction(ctx, cmd, flags));

  topology
    .command('export')
    .description('write RabbitMQ definitions JSON (rabbitmqctl import_definitions) for the file, no broker needed')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (flags: { out?: string }, cmd: Command) => exportAction(ctx, cmd, flags));
}
