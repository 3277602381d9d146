import type { ConsumeMessage } from 'amqplib';
import { isWarrenError } from '../errors/index.ts';
import { resolveDeadLetter, type DeadLetterInfo } from './dead-letter-info.ts';
import type { DlqDeps } from './dlq-deps.ts';
import { DlqError } from './dlq-error.ts';
import { preflightQueue } from './dlq-preflight.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { createExchangeProbe } from './exchange-probe.ts';
import { isEmptyFilter, matchesFilter, type DlqFilter } from './message-filter.ts';
import { orderedNames, releaseEndMessage, routeOrderings, type BlockEvent } from '../jobs/ordering.ts';
import { createOriginPolicy } from './origin-policy.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { requeueProperties } from '../jobs/message-properties.ts';
import { openRouteTarget } from './route-target.ts';
import { destinationFor, republishProblem, type Destination, type RequeueVia } from './requeue-destination.ts';
import { createMemoryJournal, dedupeKey } from './requeue-journal.ts';
import { createRequeueTally, failureDetail, type RequeueProgress, type RequeueReport } from './requeue-report.ts';
import { createRequeueWindow } from './requeue-window.ts';
import { openSnapshotReader } from './snapshot-reader.ts';

export type { RequeueVia } from './requeue-destination.ts';
export type { RequeueNote, RequeueProgress, RequeueReport } from './requeue-report.ts';

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
  /** Unconfirmed publishes in flight (see requeue-window.ts). @default 512 */
  window?: number;
  /** Confirm deadline per publish. @default 10000 */
  publishTimeoutMs?: number;
  /** Abort (Ctrl-C): stop reading, finish in-flight publishes, return the rest. */
  signal?: AbortSignal;
  /** Called after each message (or batch of confirmed messages) is handled. */
  onProgress?: (p: RequeueProgress) => void;
  /** Test hook: runs after the confirm, before the ack. */
  beforeAck?: (message: ConsumeMessage) => Promise<void> | void;
  /** `requeue` (default) republishes; `drop` acks matching messages away (selective purge). */
  action?: 'requeue' | 'drop';
}

/** Unconfirmed republishes in flight by default: at 128 a loaded broker's confirm latency, not warren, set the pace. */
const DEFAULT_WINDOW = 512;

/** Deliveries the broker pushes ahead of the requeue at least (the management UI's "Move messages" shovel uses 1,000 too). */
const READ_AHEAD = 1000;

/** What the window carries per republish, for the report and the job event. */
interface Moving {
  info: DeadLetterInfo;
  target: Destination;
  requeuedAt: Date;
}

/**
 * Moves dead letters back to where they came from. Per message, in queue order:
 * resolve origin -> filter -> cap -> destination (requeue-destination.ts) ->
 * republish with confirm, journal, ack (requeue-window.ts) -> tally (requeue-report.ts).
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

  // A confirm takes a quorum queue's commit: the window must cover many of them in flight.
  const windowSize = Math.max(1, opts.window ?? DEFAULT_WINDOW);
  // Most of what a requeue reads leaves at once: the broker need not push the whole queue ahead.
  const reader = await openSnapshotReader({ connection, queue, credit: Math.max(READ_AHEAD, 2 * windowSize) });
  const journal = !dryRun && deps.journal ? deps.journal(vhost, queue) : createMemoryJournal();
  // An in-memory journal remembers nothing across runs: no key to hash per message.
  const keyOf = journal.file === undefined ? () => '' : dedupeKey;
  const limiter = opts.ratePerSec === undefined ? undefined : createRateLimiter(opts.ratePerSec);
  /** Exchanges the probe found: no await per message for them. */
  const existing = new Set<string>(['']);
  const tally = createRequeueTally({ queue, action, dryRun, total: reader.total, snapshot: reader.snapshot, warnings, journal: journal.file, onProgress: opts.onProgress });
  const { report } = tally;
  if (reader.total > reader.snapshot) {
    warnings.push(`queue holds ${reader.total} messages; one run reads the first ${reader.snapshot} (run again for the rest)`);
  }

  /** A message that can't be sent stays in the DLQ as a failure. (Not a closure per message: under tsx each one costs a defineProperty.) */
  const leave = (msg: ConsumeMessage, info: DeadLetterInfo, detail: string) => {
    reader.keep(msg);
    tally.failed({ messageId: info.messageId, reason: info.reason, detail });
    tally.progress();
  };
  const everything = isEmptyFilter(opts.filter);
  /** Ordered routes: blocking jobs selected for requeue (their blocked jobs follow them) or purged (their keys are released). */
  const releasing = new Set<string>();
  const purgedBlockers: { id: string; key: string; queue: string | undefined }[] = [];
  const heldBy = new Map<string, number>();
  /** Ordered routes: where each requeued blocking job went, for the end marker sent after its batch. */
  const endMarkers: { key: string; by: string; exchange: string; routingKey: string }[] = [];
  const movedBlockers: { id: string; key: string; queue: string | undefined; route: string }[] = [];
  const eventPromises: Promise<void>[] = [];
  const emitRequeued = ({ info, target, requeuedAt }: Moving) => {
    if (!events || info.jobId === undefined) return;
    const ev = {
      jobId: info.jobId,
      status: 'requeued' as const,
      at: requeuedAt.toISOString(),
      attempt: opts.keepAttempts ? Math.max(1, info.attempts ?? 1) : 1,
      source: 'dlq',
      fromQueue: queue,
      ...(target.route ?? info.route ? { route: (target.route ?? info.route) as string } : {}),
      ...(target.queue === undefined ? {} : { queue: target.queue }),
    };
    eventPromises.push(events.emit(ev).catch(() => void report.eventErrors++));
  };
  const window = createRequeueWindow<Moving>({
    publisher: deps.publisher,
    reader,
    journal,
    size: windowSize,
    publishTimeoutMs: opts.publishTimeoutMs ?? 10_000,
    beforeAck: opts.beforeAck,
    onMoved: ({ data }) => {
      tally.moved(data.target.label);
      emitRequeued(data);
    },
    onUnacked: () => void report.unacked++,
    onFailed: ({ message, data }, err) => {
      reader.keep(message);
      tally.failed({ messageId: data.info.messageId, reason: data.info.reason, detail: failureDetail(err) });
    },
    onSettled: () => tally.progress(),
  });

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
      const key = keyOf(msg);
      const left = journal.leftover(key);
      if (left === 'confirmed' && msg.fields.redelivered && action === 'requeue') {
        // An interrupted run delivered this one already; its DLQ copy is the duplicate.
        if (reader.ack(msg)) {
          report.deduplicated++;
          window.ackedLeftover(key);
        }
        tally.progress();
        continue;
      }
      if (left === 'published') {
        journal.forget(key);
        report.possibleDuplicates++;
      }
      const info = resolveDeadLetter(msg, { queue, origins: policy });
      if (info.blockedBy !== undefined && heldBy.has(info.blockedBy)) heldBy.set(info.blockedBy, (heldBy.get(info.blockedBy) ?? 0) + 1);
      // Ordered routes: requeueing a blocking job takes the jobs it blocked along, right behind it, in DLQ order.
      const follows = action === 'requeue' && info.blockedBy !== undefined && releasing.has(info.blockedBy);
      if (!everything && !follows && !matchesFilter(info, opts.filter)) {
        reader.keep(msg);
        report.skipped.filtered++;
        tally.progress();
        continue;
      }
      if (action === 'requeue' && info.requeued >= maxRequeues) {
        reader.keep(msg);
        report.skipped.capped++;
        tally.progress();
        continue;
      }
      let dest: Destination | undefined;
      if (action === 'requeue') {
        const d = destinationFor(info, msg, { toRoute, via: opts.via }, policy);
        if ('problem' in d) {
          reader.keep(msg);
          const n = { messageId: info.messageId, reason: info.reason, detail: d.problem };
          if (d.unknownOrigin) tally.unknownOrigin(n);
          else tally.failed(n);
          tally.progress();
          continue;
        }
        dest = d;
      }
      report.selected++;
      if (info.orderKey !== undefined && info.blockedBy === undefined && info.messageId !== undefined) {
        if (action === 'requeue') {
          releasing.add(info.messageId);
          if (!dryRun && dest && dest.route !== undefined && routeOrderings(deps.topology).get(dest.route)?.queue !== info.origin?.queue) {
            // Sent to a route outside its ordered queue (--to-route): the key no longer waits for it.
            movedBlockers.push({ id: info.messageId, key: info.orderKey, queue: info.origin?.queue, route: dest.route });
          } else if (!dryRun && dest) {
            endMarkers.push({ key: info.orderKey, by: info.messageId, exchange: dest.exchange, routingKey: dest.routingKey });
            // Before the job goes back: from now on the partition's owner holds the key's new jobs back for it.
            await announceReleasing(deps, info.origin?.queue, info.orderKey, info.messageId).catch((err: unknown) => {
              warnings.push(`could not announce the requeue of blocking job ${info.messageId} (${(err as Error).message}): new jobs of key '${info.orderKey}' arriving before it runs are moved aside`);
            });
          }
        }
        else {
          heldBy.set(info.messageId, 0);
          if (!dryRun) purgedBlockers.push({ id: info.messageId, key: info.orderKey, queue: info.origin?.queue });
        }
      }
      const label = dest?.label ?? 'dropped';
      if (dryRun) {
        reader.keep(msg);
        tally.moved(label);
        tally.planned({ messageId: info.messageId, reason: info.reason, to: label });
        tally.progress();
        continue;
      }
      if (!dest) {
        // Selective purge: the message matched, ack it away.
        if (reader.ack(msg)) tally.moved(label);
        else {
          report.unacked++;
          report.destinations[label] = (report.destinations[label] ?? 0) + 1;
        }
        tally.progress();
        continue;
      }
      if (!existing.has(dest.exchange)) {
        if (!(await exchangeExists(dest.exchange))) {
          leave(msg, info, `exchange '${dest.exchange}' does not exist on the broker (run warren topology apply)`);
          continue;
        }
        existing.add(dest.exchange);
      }
      // The requeue's moment is before the republish: a worker may finish the job before the
      // confirm comes back, and its events must then win over this one (see the status merge rules).
      const requeuedAt = new Date(now());
      const properties = requeueProperties(msg.properties, {
        origin: { exchange: dest.exchange, routingKey: dest.routingKey, queue: dest.queue },
        requeued: info.requeued,
        keepAttempts: opts.keepAttempts ?? false,
        ...(dest.route === undefined ? {} : { route: dest.route }),
        fromQueue: queue,
        now: requeuedAt,
      });
      // What the publisher would default to anyway; given, it publishes this object without copying it.
      properties.mandatory = true;
      const unsendable = republishProblem(properties);
      if (unsendable !== undefined) {
        leave(msg, info, unsendable);
        continue;
      }
      if (limiter) await limiter.take(opts.signal);
      const lost = reader.lostWith();
      // The DLQ copy could no longer be acked: don't send a message we would leave in both places.
      if (lost) throw new DlqError('DLQ_CONNECTION_LOST', `lost the connection to the broker: ${lost.message}`, { cause: lost });
      const wait = window.add({ message: msg, key, exchange: dest.exchange, routingKey: dest.routingKey, properties, data: { info, target: dest, requeuedAt } });
      if (wait) await wait;
    }
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof DlqError)) report.interrupted = true;
    else report.error = { code: isWarrenError(err) ? err.code : 'DLQ_ERROR', message: (err as Error).message };
  } finally {
    await window.drain();
    // After the blocking jobs and the jobs they blocked (same channel, so after them in their partition): the
    // partition's owner holds the key's new jobs back until it sees this marker (docs/ordered-routes.md).
    for (const m of endMarkers) {
      const marker = releaseEndMessage(m.key, m.by);
      await deps.publisher.publish({ exchange: m.exchange, routingKey: m.routingKey, content: marker.content, properties: marker.properties }).catch((err: unknown) => {
        warnings.push(`the end marker of requeued blocking job ${m.by} (key '${m.key}') was not published (${(err as Error).message}): the worker holds that key's new jobs back for up to 30 s`);
      });
    }
    const broken = window.failure();
    if (broken && !report.error) report.error = { code: broken.code, message: broken.message };
    if (!reader.lostWith()) {
      if (report.scanned === reader.total && !report.interrupted && !report.error) journal.dropLeftovers();
      await window.syncJournal().catch(() => undefined);
    } else if (!report.error) {
      report.error = { code: 'DLQ_CONNECTION_LOST', message: `lost the connection to the broker: ${reader.lostWith()?.message}` };
    }
    await reader.close();
    await Promise.all(eventPromises);
  }
  for (const b of movedBlockers) {
    const note = await releaseBlocker(deps, b, 'moved')
      .then((released) => (released ? `key '${b.key}' released: its blocking job ${b.id} was sent to route '${b.route}' (outside its ordered queue), and the jobs it blocked with it` : undefined))
      .catch((err: unknown) => `key '${b.key}' could NOT be released after sending job ${b.id} to route '${b.route}': ${(err as Error).message}; the key stays blocked`);
    if (note !== undefined) report.warnings.push(note);
  }
  for (const b of purgedBlockers) {
    const note = await releasePurgedBlocker(deps, b, queue, heldBy.get(b.id) ?? 0).catch((err: unknown) => `key '${b.key}' could NOT be released after purging job ${b.id}: ${(err as Error).message}; the key stays blocked`);
    if (note !== undefined) report.warnings.push(note);
  }
  return tally.finish(started);
}

/**
 * Ordered routes: an operator purged a job that blocks its key (they chose
 * to skip it), so the key is released: a `release` appended to the ordered
 * queue's blocks stream, which every worker follows. The jobs blocked behind
 * it stay in the DLQ; the returned line says so.
 */
async function releasePurgedBlocker(deps: DlqDeps, b: { id: string; key: string; queue: string | undefined }, dlq: string, waiting: number): Promise<string | undefined> {
  if (!(await releaseBlocker(deps, b, 'purged'))) return undefined;
  return (
    `key '${b.key}' released: its blocking job ${b.id} was purged` +
    (waiting > 0 ? `; ${waiting} job(s) blocked behind it stay in '${dlq}': requeue them with --key '${b.key.slice(b.key.indexOf('/') + 1)}'` : '')
  );
}

/** Ordered routes: appends `releasing` for a blocking job about to be requeued to its queue's blocks stream. */
async function announceReleasing(deps: DlqDeps, queue: string | undefined, key: string, by: string): Promise<void> {
  if (queue === undefined || deps.topology.queues[queue]?.ordering === undefined) return;
  const event: BlockEvent = { type: 'releasing', key, by, at: new Date().toISOString() };
  await deps.publisher.publish({ exchange: '', routingKey: orderedNames.blocks(queue), content: Buffer.from(JSON.stringify(event)), properties: { contentType: 'application/json', type: 'warren.order.releasing' } });
}

/** Appends a `release` of `b.key`'s block by `b.id` to its ordered queue's blocks stream; false when the queue is not ordered. */
async function releaseBlocker(deps: DlqDeps, b: { id: string; key: string; queue: string | undefined }, why: 'purged' | 'moved'): Promise<boolean> {
  if (b.queue === undefined || deps.topology.queues[b.queue]?.ordering === undefined) return false;
  const event: BlockEvent = { type: 'release', key: b.key, by: b.id, at: new Date().toISOString(), why };
  await deps.publisher.publish({ exchange: '', routingKey: orderedNames.blocks(b.queue), content: Buffer.from(JSON.stringify(event)), properties: { contentType: 'application/json', type: 'warren.order.release' } });
  return true;
}
