import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { createBrokerConnection } from '../broker/broker-connection.ts';
import { createConfirmPublisher } from '../broker/confirm-publisher.ts';
import { ENV_SETTINGS } from '../config/env-settings.ts';
import type { Topology } from '../config/topology-schema.ts';
import {
  createDlqService,
  createFileJournal,
  defaultJournalPath,
  DlqError,
  formatGroups,
  formatListing,
  formatPurge,
  formatRequeueReport,
  parseDlqFilter,
  parseRate,
  type DlqDeps,
  type DlqFilter,
  type DlqService,
  type RequeueProgress,
  type RequeueVia,
} from '../dlq/index.ts';
import { loadJobEventKeyring } from '../jobs/job-event-key.ts';
import { createJobEventPublisher } from '../jobs/job-event-publisher.ts';
import { createSilentLogger } from '../observability/logger.ts';
import { loadPayloadSchemas } from '../consumer-modules/load-payload-schemas.ts';
import { EXIT, type CliContext } from './cli-context.ts';

/** Exit code of a run stopped by Ctrl-C / SIGTERM. */
const EXIT_INTERRUPTED = 130;

interface FilterFlags {
  route?: string[];
  reason?: string[];
  errorClass?: string[];
  origin?: string[];
  id?: string[];
  key?: string[];
  group?: string[];
  since?: string;
  before?: string;
  limit?: string;
  maxRequeues?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--route <name>', 'only messages of this route (repeatable, or comma-separated)', collect)
    .option('--reason <reason>', 'dead-letter reason or error class, e.g. rate-limited, expired, delivery_limit (repeatable)', collect)
    .option('--error-class <class>', 'only this x-warren-error-class (repeatable)', collect)
    .option('--origin <queue>', 'only messages that died in this queue (repeatable)', collect)
    .option('--id <id>', 'only this message id or job id (repeatable)', collect)
    .option('--key <key>', 'ordered routes: only jobs of this ordering key (repeatable); requeueing a blocking job brings the jobs it blocks along')
    .option('--group <id>', 'only this failure group (origin, reason, error class), as `warren dlq list --groups` or the console shows its id (repeatable)', collect)
    .option('--since <when>', 'died within this long (30m, 2h, 7d) or after this date')
    .option('--before <when>', 'died longer ago than this (1h) or before this date')
    .option('--limit <n>', 'act on at most n matching messages')
    .option('--max-requeues <n>', `requeue cap: skip messages already requeued this often (default: $WARREN_DLQ_MAX_REQUEUES or ${ENV_SETTINGS.dlqMaxRequeues.default})`);
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new DlqError('DLQ_INVALID_FILTER', `${flag} '${value}' must be a whole number`);
  return n;
}

function filterFrom(flags: FilterFlags): DlqFilter {
  const { route, reason, errorClass, origin, id, key, group, since, before } = flags;
  return parseDlqFilter({ route, reason, errorClass, origin, id, key, group, since, before }, Date.now());
}

function maxRequeuesFrom(ctx: CliContext, flags: FilterFlags): number {
  return positiveInt(flags.maxRequeues, '--max-requeues') ?? ctx.config().dlqMaxRequeues;
}

/** Opens what a DLQ command needs and closes it afterwards. */
async function withService<T>(ctx: CliContext, cmd: Command, journal: string | false | undefined, run: (service: DlqService, topology: Topology) => Promise<T>): Promise<T> {
  const { topology, consumersDir } = ctx.loadTopology(cmd, { checkHandlers: false });
  const c = topology.connection;
  const connection = createBrokerConnection({ urls: c.urls, vhost: c.vhost, heartbeat: c.heartbeat, name: `warren-dlq-${process.pid}` });
  // One channel: republished messages reach the origin in DLQ order.
  const publisher = createConfirmPublisher({ connection, channels: 1 });
  // Job events on their own publisher, so an event problem never touches a requeue publish.
  const eventPublisher = createConfirmPublisher({ connection, channels: 1 });
  const deps: DlqDeps = {
    connection,
    publisher,
    management: ctx.management(topology),
    topology,
    // Only a --to-route requeue loads them (consumers/schemas/*), to check the payloads as a new job would be.
    payloadSchemas: () => loadPayloadSchemas(topology, consumersDir),
    events: createJobEventPublisher(eventPublisher, topology.jobEvents, 'dlq', () => loadJobEventKeyring({ key: ctx.config().eventKey, previousKey: ctx.config().eventKeyPrevious, vhost: c.vhost, management: ctx.management(topology), logger: createSilentLogger() })),
  };
  if (journal !== false) deps.journal = (vhost, queue) => createFileJournal(typeof journal === 'string' ? journal : defaultJournalPath(vhost, queue, ctx.env));
  try {
    return await run(createDlqService(deps), topology);
  } finally {
    await publisher.close().catch(() => undefined);
    await eventPublisher.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}

/** Progress on stderr: a bar on a terminal, a plain line at most every 200 ms otherwise. */
function createProgress(ctx: CliContext, label: string, enabled: boolean) {
  if (!enabled) return { update: (_p: RequeueProgress) => undefined, stop: () => undefined };
  if (ctx.io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} |{bar}| {value}/{total} read | moved {moved} skipped {skipped} failed {failed}`,
        stream: ctx.io.stderr as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p: RequeueProgress) {
        if (!started) {
          bar.start(p.snapshot, 0, { moved: 0, skipped: 0, failed: 0 });
          started = true;
        }
        bar.update(p.scanned, { moved: p.moved, skipped: p.skipped, failed: p.failed });
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let pending: RequeueProgress | undefined;
  const line = (p: RequeueProgress) => ctx.io.stderr.write(`${label}: read ${p.scanned}/${p.snapshot}, moved ${p.moved}, skipped ${p.skipped}, failed ${p.failed}\n`);
  return {
    update(p: RequeueProgress) {
      pending = p;
      const t = Date.now();
      if (t - last >= 200) {
        last = t;
        line(p);
        pending = undefined;
      }
    },
    stop: () => {
      if (pending) line(pending);
    },
  };
}

/** Ctrl-C / SIGTERM abort the run gracefully; a second Ctrl-C exits at once (still safe: unacked messages return to the DLQ). */
function interruptSignal(ctx: CliContext): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    ctx.io.stderr.write('\ninterrupted: finishing in-flight messages (Ctrl-C again to quit now; nothing is lost either way)\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function confirmOrRefuse(ctx: CliContext, question: string, yes: boolean | undefined, what: string): Promise<boolean> {
  if (yes) return true;
  if (!ctx.io.confirm) {
    throw new DlqError('DLQ_CONFIRMATION_REQUIRED', `refusing to ${what} without confirmation: not running on a terminal. Pass --yes, or --dry-run to preview`);
  }
  return ctx.io.confirm(question);
}

/** `warren dlq list|requeue|purge|export`. */
export function createDlqCommand(ctx: CliContext): Command {
  const dlq = new Command('dlq').description('inspect, requeue, purge and export dead letters (see README: Dead letters)');

  addFilterOptions(dlq.command('list <queue>').description('summary of a dead-letter queue (counts by route, reason, error class, origin, age); changes nothing'))
    .option('--show <n>', 'also list the first n matching messages', '10')
    .option('--groups', 'show failure groups (origin, reason, error class) with counts, ages and the id --group takes')
    .action(async (queue: string, flags: FilterFlags & { show: string; groups?: boolean }, cmd: Command) => {
      const { json } = ctx.globals(cmd);
      if (flags.groups) {
        const groups = await withService(ctx, cmd, undefined, (service) =>
          service.groups(queue, { filter: filterFrom(flags), maxRequeues: maxRequeuesFrom(ctx, flags), ...(flags.limit === undefined ? {} : { limit: positiveInt(flags.limit, '--limit') as number }) }),
        );
        if (json) ctx.printJson(groups);
        else ctx.print(formatGroups(groups, Date.now()));
        return;
      }
      const listing = await withService(ctx, cmd, undefined, (service) =>
        service.list(queue, {
          filter: filterFrom(flags),
          pageSize: positiveInt(flags.show, '--show') ?? 10,
          maxRequeues: maxRequeuesFrom(ctx, flags),
          ...(flags.limit === undefined ? {} : { limit: positiveInt(flags.limit, '--limit') as number }),
        }),
      );
      if (json) ctx.printJson(listing);
      else ctx.print(formatListing(listing, Date.now()));
    });

  addFilterOptions(dlq.command('requeue <queue>').description('send matching dead letters back to the exchange and routing key they came from'))
    .option('--to-route <route>', 'send them to this route of the topology instead (e.g. a fallback model)')
    .addOption(new Option('--via <how>', 'auto: origin exchange + key unless that would fan out; exchange; queue (straight to the origin queue)').choices(['auto', 'exchange', 'queue']).default('auto'))
    .option('--dry-run', 'show what would move where; change nothing')
    .option('--rate <rate>', 'at most this many per second, e.g. 500/s or 30/m')
    .option('--keep-attempts', 'keep x-warren-attempt instead of resetting it to 1')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--force', 'allow a queue that is not a dead-letter queue in the topology')
    .option('--journal <file>', 'dedupe journal (default: $XDG_STATE_HOME/warren/dlq/<vhost>/<queue>.journal)')
    .option('--no-journal', 'no dedupe journal (a kill between confirm and ack may then duplicate)')
    .option('--no-progress', 'no progress output')
    .action(async (queue: string, flags: FilterFlags & { toRoute?: string; via: RequeueVia; dryRun?: boolean; rate?: string; keepAttempts?: boolean; yes?: boolean; force?: boolean; journal?: string | false; progress: boolean }, cmd: Command) => {
      const { json } = ctx.globals(cmd);
      const filter = filterFrom(flags);
      const ratePerSec = flags.rate === undefined ? undefined : parseRate(flags.rate);
      if (flags.rate !== undefined && ratePerSec === undefined) throw new DlqError('DLQ_INVALID_FILTER', `--rate '${flags.rate}' is not a rate (use e.g. 500/s, 30/m)`);
      if (!flags.dryRun && !(await confirmOrRefuse(ctx, `Requeue matching dead letters from '${queue}' to their origins?`, flags.yes, 'requeue'))) {
        ctx.io.stderr.write('nothing done\n');
        return;
      }
      const interrupt = interruptSignal(ctx);
      const progress = createProgress(ctx, `requeue ${queue}`, flags.progress && !json);
      try {
        const report = await withService(ctx, cmd, flags.journal, (service) =>
          service.requeue(queue, {
            filter,
            via: flags.via,
            dryRun: flags.dryRun === true,
            keepAttempts: flags.keepAttempts === true,
            force: flags.force === true,
            maxRequeues: maxRequeuesFrom(ctx, flags),
            signal: interrupt.signal,
            onProgress: (p) => progress.update(p),
            ...(flags.limit === undefined ? {} : { limit: positiveInt(flags.limit, '--limit') as number }),
            ...(flags.toRoute === undefined ? {} : { toRoute: flags.toRoute }),
            ...(ratePerSec === undefined ? {} : { ratePerSec }),
          }),
        );
        progress.stop();
        if (json) ctx.printJson(report);
        else ctx.print(formatRequeueReport(report));
        ctx.exitCode = report.interrupted ? EXIT_INTERRUPTED : report.failed > 0 || report.error !== undefined ? EXIT.error : EXIT.ok;
      } finally {
        progress.stop();
        interrupt.dispose();
      }
    });

  addFilterOptions(dlq.command('purge <queue>').description('delete dead letters: all of them, or only those matching the filters'))
    .option('--dry-run', 'count what would be deleted; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
    .option('--force', 'allow a queue that is not a dead-letter queue in the topology')
    .action(async (queue: string, flags: FilterFlags & { dryRun?: boolean; yes?: boolean; force?: boolean }, cmd: Command) => {
      const { json } = ctx.globals(cmd);
      const filter = filterFrom(flags);
      if (!flags.dryRun && !(await confirmOrRefuse(ctx, `Delete ${Object.keys(filter).length === 0 ? 'ALL messages' : 'the matching messages'} of '${queue}'? This cannot be undone`, flags.yes, 'purge'))) {
        ctx.io.stderr.write('nothing done\n');
        return;
      }
      const interrupt = interruptSignal(ctx);
      try {
        const report = await withService(ctx, cmd, false, (service) =>
          service.purge(queue, {
            filter,
            dryRun: flags.dryRun === true,
            force: flags.force === true,
            signal: interrupt.signal,
            ...(flags.limit === undefined ? {} : { limit: positiveInt(flags.limit, '--limit') as number }),
          }),
        );
        if (json) ctx.printJson(report);
        else ctx.print(formatPurge(report));
        if (report.selective && (report.selective.failed > 0 || report.selective.error)) ctx.exitCode = EXIT.error;
        if (report.selective?.interrupted) ctx.exitCode = EXIT_INTERRUPTED;
      } finally {
        interrupt.dispose();
      }
    });

  addFilterOptions(dlq.command('export <queue>').description('save dead letters (body, headers, properties) as NDJSON without removing them'))
    .requiredOption('--out <file>', "NDJSON file to write ('-' for stdout)")
    .action(async (queue: string, flags: FilterFlags & { out: string }, cmd: Command) => {
      const { json } = ctx.globals(cmd);
      const toStdout = flags.out === '-';
      const stream = toStdout ? undefined : createWriteStream(flags.out);
      const write = async (line: unknown) => {
        const text = `${JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
        if (!stream) ctx.io.stdout.write(text);
        else if (!stream.write(text)) await once(stream, 'drain');
      };
      try {
        const result = await withService(ctx, cmd, undefined, (service) =>
          service.export(queue, { filter: filterFrom(flags), maxRequeues: maxRequeuesFrom(ctx, flags), ...(flags.limit === undefined ? {} : { limit: positiveInt(flags.limit, '--limit') as number }) }, write),
        );
        const text = `${queue}: exported ${result.exported} of ${result.summary.total} message${result.summary.total === 1 ? '' : 's'}${toStdout ? '' : ` to ${flags.out}`} (nothing removed)`;
        if (json && !toStdout) ctx.printJson({ exported: result.exported, file: flags.out, summary: result.summary, warnings: result.warnings });
        else ctx.io.stderr.write(`${text}\n${result.warnings.map((w) => `warning: ${w}\n`).join('')}`);
      } finally {
        if (stream) {
          stream.end();
          await once(stream, 'finish').catch(() => undefined);
        }
      }
    });

  return dlq;
}

/** Registers `warren dlq ...` on the program (add to COMMAND_GROUPS in program.ts). */
export function registerDlqCommand(program: Command, ctx: CliContext): void {
  program.addCommand(createDlqCommand(ctx));
}
