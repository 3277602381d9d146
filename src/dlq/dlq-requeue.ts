import type { ConsumeMessage, Options } from 'amqplib';
import { isWarrenError } from '../errors/index.ts';
import { requeueProperties } from '../jobs/message-properties.ts';
import { resolveDeadLetter, type DeadLetterInfo } from './dead-letter-info.ts';
import type { DlqDeps } from './dlq-deps.ts';
import { DlqError } from './dlq-error.ts';
import { preflightQueue } from './dlq-preflight.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { createExchangeProbe } from './exchange-probe.ts';
import { fieldTableBytes, MAX_REPUBLISH_HEADER_BYTES } from './header-table-size.ts';
import { matchesFilter, type DlqFilter } from './message-filter.ts';
import { createOriginPolicy, shownName, type OriginPolicy } from './origin-policy.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { createMemoryJournal, dedupeKey } from './requeue-journal.ts';
import { openRouteTarget, routeTargetKey, type RouteTarget } from './route-target.ts';
import { openSnapshotReader } from './snapshot-reader.ts';

/** How a requeued message travels: to its origin exchange + key, straight to its origin queue, or `auto`. */
export type RequeueVia = 'auto' | 'exchange' | 'queue';

/** Options of a requeue (or a selective purge: `action: 'drop'`). */
export interface RequeueOptions {
  filter: DlqFilter;
  /** Move at most this many messages. */
  limit?: number;
  /** Send every selected message to this route (exchange + filled routing-key template) instead of its origin. */
  toRoute?: string;
  /**
   * `auto` (default): origin exchange + routing key, unless the topology shows that
   * exchange/key now reaches other queues too (fan-out: the other queues would get a
   * second copy) or no longer reaches the origin queue; then straight to the origin
   * queue through the default exchange. `exchange` / `queue` force one of the two.
   */
  via?: RequeueVia;
  /** Print what would happen; change nothing. */
  dryRun?: boolean;
  /** Publishes per second. @default unlimited */
  ratePerSec?: number;
  /** Skip messages whose x-warren-requeued is already this high. @default 5 */
  maxRequeues?: number;
  /** Keep x-warren-attempt instead of resetting it to 1. */
  keepAttempts?: boolean;
  /** Use a queue the topology doesn't know as a DLQ. */
  force?: boolean;
  /** Unconfirmed publishes in flight. @default 128 */
  window?: number;
  /** Confirm deadline per publish. @default 10000 */
  publishTimeoutMs?: number;
  /** Abort (Ctrl-C): stop reading, finish in-flight publishes, return the rest. */
  signal?: AbortSignal;
  /** Called after each message is handled. */
  onProgress?: (p: RequeueProgress) => void;
  /** Test hook: runs after the confirm, before the ack. */
  beforeAck?: (message: ConsumeMessage) => Promise<void> | void;
  /** `requeue` (default) republishes; `drop` acks matching messages away (selective purge). */
  action?: 'requeue' | 'drop';
}

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

interface Destination {
  exchange: string;
  routingKey: string;
  queue: string | undefined;
  route: string | undefined;
  label: string;
}

function destinationFor(info: DeadLetterInfo, msg: ConsumeMessage, opts: RequeueOptions, policy: OriginPolicy, toRoute: RouteTarget | undefined): Destination | { problem: string; unknownOrigin: boolean } {
  const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
  if (toRoute !== undefined) {
    const route = toRoute.route;
    // Checked as a new job on that route would be (schema, routing-key rule): the submit use case's own check.
    const filled = routeTargetKey(toRoute, msg.content);
    if ('problem' in filled) return { problem: filled.problem, unknownOrigin: false };
    // The payload fills the key: the route must still lead to work queues only.
    const reach = policy.reach(route.exchange, filled.key, headers);
    if ('problem' in reach) return { problem: `route '${route.name}' leads to ${reach.problem}`, unknownOrigin: false };
    const queue = reach.work.size === 1 ? [...reach.work][0] : undefined;
    return { exchange: route.exchange, routingKey: filled.key, queue, route: route.name, label: `route ${route.name}: ${route.exchange}/${filled.key}` };
  }
  const o = info.origin;
  if (!o) return { problem: info.originProblem ?? 'origin unknown', unknownOrigin: true };
  const direct = (q: string): Destination => ({ exchange: '', routingKey: q, queue: q, route: undefined, label: `queue ${q}` });
  const via = opts.via ?? 'auto';
  // The resolver only lets through origins the policy accepts; the default exchange means "that queue".
  if (o.exchange === '' && o.queue !== undefined) return direct(o.queue);
  if (via === 'queue' && o.queue !== undefined) return direct(o.queue);
  const reach = policy.reach(o.exchange, o.routingKey, headers);
  if ('problem' in reach) return { problem: `the origin is ${reach.problem}`, unknownOrigin: true };
  if (via !== 'exchange') {
    // The resolver names a queue for every origin it accepts; without one, never fan out.
    if (o.queue === undefined) return { problem: `the origin is exchange ${shownName(o.exchange)} with no single origin queue`, unknownOrigin: true };
    // Through the exchange only when it leads to the origin queue and nowhere else (no fan-out copy, no audit copy).
    if (reach.taps.size > 0 || reach.work.size !== 1 || !reach.work.has(o.queue)) return direct(o.queue);
  }
  const arrow = o.queue === undefined ? '' : ` -> ${o.queue}`;
  return { exchange: o.exchange, routingKey: o.routingKey, queue: o.queue, route: undefined, label: `${o.exchange}/${o.routingKey}${arrow}` };
}

/** Outcome of a publish error: definitely not stored (safe to forget) or unknown. */
function definitelyNotStored(err: unknown): boolean {
  return isWarrenError(err) && ['UNROUTABLE', 'PUBLISH_REJECTED', 'EXCHANGE_NOT_FOUND', 'PUBLISH_BACKPRESSURE'].includes(err.code);
}

/**
 * What a failed publish says in the report. A channel the broker closed fails
 * every publish in flight on it: the broker's own words name the culprit, the
 * publisher's (written per publish, e.g. "exchange '' does not exist") may not.
 */
function failureDetail(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (isWarrenError(err) && err.code === 'EXCHANGE_NOT_FOUND' && cause instanceof Error) {
    return `the broker closed the publish channel before confirming this message: ${cause.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Why a message can't be republished as it is (headers amqplib would refuse), or undefined. */
function republishProblem(properties: Options.Publish): string | undefined {
  try {
    const bytes = fieldTableBytes((properties.headers ?? {}) as Record<string, unknown>);
    if (bytes > MAX_REPUBLISH_HEADER_BYTES) return `its headers take ${bytes} bytes, more than the ${MAX_REPUBLISH_HEADER_BYTES} a republish can carry`;
  } catch (err) {
    return `its headers can't be republished: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * Moves dead letters back to where they came from. Per message, in queue order:
 * resolve origin -> filter -> cap -> republish with confirm -> journal -> ack.
 * Messages not moved stay unacked and go back in place when the reader closes.
 */
export async function runRequeue(deps: DlqDeps, queue: string, opts: RequeueOptions): Promise<RequeueReport> {
  const started = performance.now();
  const now = deps.now ?? Date.now;
  const action = opts.action ?? 'requeue';
  const dryRun = opts.dryRun ?? false;
  const maxRequeues = opts.maxRequeues ?? 5;
  const vhost = deps.topology.connection.vhost;
  const dt = createDlqTopology(deps.topology);
  if (opts.toRoute !== undefined && !(opts.toRoute in deps.topology.routes)) {
    const known = Object.keys(deps.topology.routes);
    throw new DlqError('DLQ_UNKNOWN_ROUTE', `--to-route '${opts.toRoute}' is not a route of the topology (routes: ${known.length > 0 ? known.join(', ') : 'none'})`);
  }
  const policy = createOriginPolicy(dt);
  const toRoute = opts.toRoute === undefined || action !== 'requeue' ? undefined : await openRouteTarget(deps, opts.toRoute);
  const facts = await preflightQueue({ management: deps.management, vhost, queue, dlqTopology: dt, requireDeadLetterQueue: true, force: opts.force ?? false });
  const connection = await deps.connection.waitForConnection(deps.connectTimeoutMs ?? 10_000);
  const exchangeExists = createExchangeProbe(connection);
  let events = deps.events;
  const warnings = [...facts.warnings];
  if (events && !dryRun && action === 'requeue' && !(await exchangeExists(deps.topology.jobEvents.exchange))) {
    warnings.push(`job-events exchange '${deps.topology.jobEvents.exchange}' does not exist: no 'requeued' job events are emitted (run warren topology apply)`);
    events = undefined;
  }

  const reader = await openSnapshotReader({ connection, queue });
  const journal = !dryRun && deps.journal ? deps.journal(vhost, queue) : createMemoryJournal();
  const limiter = createRateLimiter(opts.ratePerSec);
  const windowSize = Math.max(1, opts.window ?? 128);
  const report: RequeueReport = {
    queue,
    action,
    dryRun,
    total: reader.total,
    snapshot: reader.snapshot,
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
    warnings,
    durationMs: 0,
    rate: 0,
    journal: journal.file,
  };
  if (reader.total > reader.snapshot) {
    warnings.push(`queue holds ${reader.total} messages; one run reads the first ${reader.snapshot} (run again for the rest)`);
  }

  let inFlight = 0;
  /** Exchanges that confirmed a publish in this run. */
  const proven = new Set<string>();
  let slotWaiters: Array<() => void> = [];
  const releaseSlot = () => {
    inFlight--;
    const w = slotWaiters;
    slotWaiters = [];
    for (const f of w) f();
  };
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise<void>((r) => slotWaiters.push(r));
  };
  let ackedSinceSync: string[] = [];
  let lastSync = performance.now();
  const eventPromises: Promise<void>[] = [];
  const progress = () =>
    opts.onProgress?.({
      snapshot: reader.snapshot,
      scanned: report.scanned,
      moved: report.moved,
      skipped: report.skipped.filtered + report.skipped.capped + report.skipped.unknownOrigin,
      failed: report.failed,
    });
  const note = (list: RequeueNote[], n: RequeueNote) => {
    if (list.length < 20) list.push(n);
  };

  async function syncJournal(): Promise<void> {
    const keys = ackedSinceSync;
    ackedSinceSync = [];
    lastSync = performance.now();
    await reader.sync();
    journal.settle(keys);
  }

  try {
    for (;;) {
      if (opts.signal?.aborted) {
        report.interrupted = true;
        break;
      }
      if (opts.limit !== undefined && report.selected >= opts.limit) break;
      const msg = await reader.next();
      if (!msg) break;
      report.scanned++;
      const key = dedupeKey(msg);
      const left = journal.leftover(key);
      if (left === 'confirmed' && msg.fields.redelivered && action === 'requeue') {
        // An interrupted run delivered this one already; its DLQ copy is the duplicate.
        journal.forget(key);
        if (reader.ack(msg)) {
          report.deduplicated++;
          ackedSinceSync.push(key);
        }
        progress();
        continue;
      }
      if (left === 'published') {
        journal.forget(key);
        report.possibleDuplicates++;
      }
      const info = resolveDeadLetter(msg, { queue, origins: policy });
      if (!matchesFilter(info, opts.filter)) {
        report.skipped.filtered++;
        progress();
        continue;
      }
      if (action === 'requeue' && info.requeued >= maxRequeues) {
        report.skipped.capped++;
        progress();
        continue;
      }
      let dest: Destination | undefined;
      if (action === 'requeue') {
        const d = destinationFor(info, msg, opts, policy, toRoute);
        if ('problem' in d) {
          if (d.unknownOrigin) {
            report.skipped.unknownOrigin++;
            note(report.unknownOrigins, { messageId: info.messageId, reason: info.reason, detail: d.problem });
          } else {
            report.failed++;
            note(report.failures, { messageId: info.messageId, reason: info.reason, detail: d.problem });
          }
          progress();
          continue;
        }
        dest = d;
      }
      report.selected++;
      const label = dest?.label ?? 'dropped';
      if (dryRun) {
        report.moved++;
        report.destinations[label] = (report.destinations[label] ?? 0) + 1;
        if (report.plan.length < 1000) report.plan.push({ messageId: info.messageId, reason: info.reason, to: label });
        progress();
        continue;
      }
      if (!dest) {
        // Selective purge: the message matched, ack it away.
        if (reader.ack(msg)) report.moved++;
        else report.unacked++;
        report.destinations[label] = (report.destinations[label] ?? 0) + 1;
        progress();
        continue;
      }
      const fail = (detail: string) => {
        report.failed++;
        note(report.failures, { messageId: info.messageId, reason: info.reason, detail });
        progress();
      };
      if (!(await exchangeExists(dest.exchange))) {
        fail(`exchange '${dest.exchange}' does not exist on the broker (run warren topology apply)`);
        continue;
      }
      // The requeue's moment is before the republish: a worker may finish the job before the
      // confirm comes back, and its events must then win over this one (see the status merge rules).
      const requeuedAt = new Date(now());
      const target = dest;
      const properties = requeueProperties(msg.properties, {
        origin: { exchange: target.exchange, routingKey: target.routingKey, queue: target.queue },
        requeued: info.requeued,
        keepAttempts: opts.keepAttempts ?? false,
        ...(target.route === undefined ? {} : { route: target.route }),
        fromQueue: queue,
        now: requeuedAt,
      });
      const unsendable = republishProblem(properties);
      if (unsendable !== undefined) {
        fail(unsendable);
        continue;
      }
      await limiter.take(opts.signal);
      // The first publish to an exchange in a run goes alone: should the broker close the channel
      // over it (an exchange deleted or made internal behind the topology's back), no other
      // message shares its confirm window.
      const untried = !proven.has(target.exchange);
      await waitFor(() => inFlight < (untried ? 1 : windowSize));
      const lost = reader.lostWith();
      // The DLQ copy could no longer be acked: don't send a message we would leave in both places.
      if (lost) throw new DlqError('DLQ_CONNECTION_LOST', `lost the connection to the broker: ${lost.message}`, { cause: lost });
      inFlight++;
      journal.published(key);
      const settled = deps.publisher
        .publish({ exchange: target.exchange, routingKey: target.routingKey, content: msg.content, properties, timeoutMs: opts.publishTimeoutMs ?? 10_000 })
        .then(
          async () => {
            proven.add(target.exchange);
            journal.confirmed(key);
            if (opts.beforeAck) await opts.beforeAck(msg);
            if (reader.ack(msg)) {
              report.moved++;
              ackedSinceSync.push(key);
              report.destinations[target.label] = (report.destinations[target.label] ?? 0) + 1;
              if (events && info.jobId !== undefined) {
                const ev = {
                  jobId: info.jobId,
                  status: 'requeued' as const,
                  at: requeuedAt.toISOString(),
                  attempt: opts.keepAttempts ? Math.max(1, info.attempts ?? 1) : 1,
                  source: 'dlq',
                  ...(target.route ?? info.route ? { route: (target.route ?? info.route) as string } : {}),
                  ...(target.queue === undefined ? {} : { queue: target.queue }),
                };
                eventPromises.push(events.emit(ev).catch(() => void report.eventErrors++));
              }
            } else {
              report.unacked++;
            }
          },
          (err: unknown) => {
            if (definitelyNotStored(err)) journal.abandon(key);
            report.failed++;
            note(report.failures, { messageId: info.messageId, reason: info.reason, detail: failureDetail(err) });
          },
        )
        .finally(() => {
          releaseSlot();
          progress();
        });
      if (untried) await settled;
      if (ackedSinceSync.length >= 1000 || performance.now() - lastSync > 1000) await syncJournal();
    }
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof DlqError)) report.interrupted = true;
    else report.error = { code: isWarrenError(err) ? err.code : 'DLQ_ERROR', message: (err as Error).message };
  } finally {
    await waitFor(() => inFlight === 0);
    report.skipped.notScanned = Math.max(0, reader.snapshot - report.scanned);
    if (!reader.lostWith()) {
      if (report.scanned === reader.total && !report.interrupted && !report.error) journal.dropLeftovers();
      await syncJournal().catch(() => undefined);
    } else if (!report.error) {
      report.error = { code: 'DLQ_CONNECTION_LOST', message: `lost the connection to the broker: ${reader.lostWith()?.message}` };
    }
    await reader.close();
    await Promise.all(eventPromises);
  }
  report.durationMs = Math.round(performance.now() - started);
  report.rate = report.durationMs > 0 ? Math.round((report.moved / report.durationMs) * 1000) : 0;
  return report;
}
