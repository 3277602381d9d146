import type { MessageProperties } from 'amqplib';
import { HEADERS, ORDER_HEADERS } from '../jobs/headers.ts';
import { REASON_BLOCKED } from '../jobs/ordering.ts';
import { amqpTimestampToMs } from '../jobs/amqp-timestamp.ts';
import { headerCount, headerName, headerNumber, headerString, headerTime } from '../jobs/header-values.ts';
import { shownName, type OriginPolicy } from './origin-policy.ts';

/** Who dead-lettered the message: a warren worker (x-warren-* headers) or the broker (x-death). */
export type DeadLetterKind = 'warren' | 'broker' | 'unknown';

/** Where a dead letter goes back to. */
export interface DeadLetterOrigin {
  exchange: string;
  routingKey: string;
  /** Queue the message died in (the work queue, never a retry wait queue), when known. */
  queue: string | undefined;
  /** Which headers the origin was read from. */
  source: 'x-warren-origin' | 'x-death' | 'x-last-death' | 'x-first-death';
}

/** One entry of the broker's `x-death` header. */
export interface DeathEntry {
  queue: string;
  reason: string;
  exchange: string;
  routingKeys: string[];
  count: number;
  /** ms since the epoch. */
  time: number | undefined;
}

/** Everything the DLQ tooling reads from one dead letter. */
export interface DeadLetterInfo {
  kind: DeadLetterKind;
  /** warren: x-warren-reason (an error class, attempts-exhausted, invalid-payload); broker: rejected, expired, maxlen, delivery_limit. */
  reason: string;
  errorClass: string | undefined;
  errorMessage: string | undefined;
  route: string | undefined;
  messageId: string | undefined;
  /** Job id used for job events (message id, else correlation id). */
  jobId: string | undefined;
  origin: DeadLetterOrigin | undefined;
  /** Why the origin is unknown (only when `origin` is undefined). */
  originProblem: string | undefined;
  /** When it died, ms since the epoch (x-warren-failed-at, else the x-death time, else the timestamp property). */
  failedAt: number | undefined;
  /** Attempts made before it died (x-warren-attempts, else x-warren-attempt). */
  attempts: number | undefined;
  /** Times the DLQ tooling already requeued it. */
  requeued: number;
  deaths: DeathEntry[];
  /** Ordered routes: the job's `<owner>/<key>` (x-warren-order-key). */
  orderKey?: string | undefined;
  /** Ordered routes, reason blocked-by-previous-failure: the dead-lettered job that blocks this one. */
  blockedBy?: string | undefined;
}

/** What the resolver needs from the topology. */
export interface ResolveContext {
  /** The queue being read (its own x-death entries, e.g. a DLQ with a TTL, are never an origin). */
  queue: string;
  /** Which origins are valid (work queues, routes): see {@link OriginPolicy}. */
  origins: OriginPolicy;
}

const asName = (value: unknown): string | undefined => {
  const n = headerName(value);
  return typeof n === 'string' ? n : undefined;
};

/** Parses `x-death` (most recent first, as the broker keeps it). Malformed entries (names that aren't strings) are skipped. */
export function parseDeaths(value: unknown): DeathEntry[] {
  if (!Array.isArray(value)) return [];
  const out: DeathEntry[] = [];
  for (const raw of value) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Buffer.isBuffer(raw)) continue;
    const e = raw as Record<string, unknown>;
    const queue = asName(e['queue']);
    const reason = asName(e['reason']);
    const exchange = e['exchange'] === undefined ? '' : asName(e['exchange']);
    if (queue === undefined || reason === undefined || exchange === undefined) continue;
    const keys = Array.isArray(e['routing-keys']) ? (e['routing-keys'] as unknown[]).map(asName).filter((k): k is string => k !== undefined) : [];
    const time = headerNumber(e['time']);
    out.push({ queue, reason, exchange, routingKeys: keys, count: headerCount(e['count']) ?? 1, time: time === undefined ? undefined : amqpTimestampToMs(time) });
  }
  return out;
}

const SOURCE_HEADERS: Record<DeadLetterOrigin['source'], string> = {
  'x-warren-origin': 'x-warren-origin-*',
  'x-death': 'x-death',
  'x-last-death': 'x-last-death-queue',
  'x-first-death': 'x-first-death-queue',
};

/**
 * Checks a claimed origin against the topology: its queue must be a work queue
 * (not the queue being read), its exchange + routing key must lead only to work
 * queues (see {@link OriginPolicy}). The default exchange always means "straight
 * to the queue", so its routing key becomes the queue. Returns the origin to use
 * or why there is none.
 */
function checkOrigin(claim: DeadLetterOrigin, headers: Record<string, unknown>, ctx: ResolveContext): { origin: DeadLetterOrigin } | { problem: string } {
  const from = SOURCE_HEADERS[claim.source];
  const { origins } = ctx;
  let queue = claim.queue;
  if (claim.exchange === '' && queue === undefined) queue = origins.topology.waitQueues.get(claim.routingKey) ?? claim.routingKey;
  if (queue !== undefined) {
    if (queue === ctx.queue) return { problem: `${from} names ${shownName(queue)}, the queue being read` };
    const problem = origins.queueProblem(queue);
    if (problem !== undefined) return { problem: `${from} names queue ${shownName(queue)}, which ${problem}` };
  }
  if (claim.exchange === '') return { origin: { ...claim, routingKey: queue as string, queue } };
  const reach = origins.reach(claim.exchange, claim.routingKey, headers);
  if ('problem' in reach) return { problem: `${from} names ${reach.problem}` };
  if (queue === undefined) {
    // Exactly one work queue behind the exchange: that is the queue the job belongs to. Several: a
    // requeue would copy the job into each, so no origin.
    if (reach.work.size !== 1) return { problem: `${from} names exchange ${shownName(claim.exchange)} with routing key ${shownName(claim.routingKey)}, which reaches ${[...reach.work].map(shownName).join(', ')}, and no single origin queue` };
    queue = [...reach.work][0];
  }
  return { origin: { ...claim, queue } };
}

/**
 * Works out why a message died and where it came from, for both kinds of dead
 * letter and RabbitMQ 3.10 through 4.x:
 *
 * 1. `x-warren-origin-*` headers win: the API writes exchange and routing key at
 *    publish time and the worker adds the queue when it dead-letters.
 * 2. Otherwise the most recent `x-death` entry that is not the DLQ itself. A retry
 *    wait queue (`<q>.retry.<delay>`, reason expired) is mapped back to its work
 *    queue: the wait queue is only a waiting room, the job belongs to `<q>`.
 * 3. Otherwise `x-last-death-*` (3.13+) or `x-first-death-*` (queue only: the
 *    message goes straight back to that queue through the default exchange).
 *
 * No origin means "report and leave in place", never "drop".
 */
export function resolveDeadLetter(message: { properties: MessageProperties }, ctx: ResolveContext): DeadLetterInfo {
  const props = message.properties;
  const h = (props.headers ?? {}) as Record<string, unknown>;
  const deaths = parseDeaths(h['x-death']);
  const dt = ctx.origins.topology;
  const isOwnQueue = (q: string) => q === ctx.queue || dt.deadLetterQueues.has(q);
  const workQueueOf = (q: string) => dt.waitQueues.get(q) ?? q;
  const latest = deaths.find((d) => !isOwnQueue(d.queue));
  const latestWork = deaths.find((d) => !isOwnQueue(d.queue) && !dt.waitQueues.has(d.queue));

  const warrenFailedAt = headerTime(h[HEADERS.failedAt]);
  // A warren dead letter carries x-death only from earlier retries (older than failed-at);
  // a broker death after a warren failure is newer than failed-at.
  const warrenDied = warrenFailedAt !== undefined && (latest?.time === undefined || warrenFailedAt >= latest.time - 1000);
  const kind: DeadLetterKind = warrenDied ? 'warren' : latest ? 'broker' : h['x-first-death-queue'] !== undefined ? 'broker' : 'unknown';

  // A name header of the wrong type is not something warren or the broker writes: nothing of the origin is trusted then.
  let notAName: string | undefined;
  const nameHeader = (header: string): string | undefined => {
    const v = headerName(h[header]);
    if (typeof v === 'object') {
      notAName ??= `${header} is ${v.invalid}, not a name`;
      return undefined;
    }
    return v;
  };
  const oExchange = nameHeader(HEADERS.originExchange);
  const oKey = nameHeader(HEADERS.originRoutingKey);
  const oQueue = nameHeader(HEADERS.originQueue);
  const lastQueue = nameHeader('x-last-death-queue');
  const firstQueue = nameHeader('x-first-death-queue');
  let claim: DeadLetterOrigin | undefined;
  let originProblem: string | undefined;

  const brokerQueue = latest ? workQueueOf(latest.queue) : undefined;
  if (notAName !== undefined) {
    originProblem = notAName;
  } else if (oExchange !== undefined && oKey !== undefined) {
    const queue = warrenDied ? (oQueue ?? brokerQueue) : (brokerQueue ?? oQueue);
    claim = { exchange: oExchange, routingKey: oKey, queue: queue === undefined ? undefined : workQueueOf(queue), source: 'x-warren-origin' };
  } else if (latest) {
    // The wait queue's own entry records the publish into the wait queue; the work queue's
    // entry (if any) records the publish that reached the work queue.
    if (latestWork && latestWork === latest) {
      claim = { exchange: latest.exchange, routingKey: latest.routingKeys[0] ?? '', queue: latest.queue, source: 'x-death' };
    } else {
      const work = workQueueOf(latest.queue);
      claim = { exchange: '', routingKey: work, queue: work, source: 'x-death' };
    }
  } else if (oQueue !== undefined) {
    claim = { exchange: '', routingKey: workQueueOf(oQueue), queue: workQueueOf(oQueue), source: 'x-warren-origin' };
  } else {
    const q = lastQueue !== undefined && !isOwnQueue(lastQueue) ? lastQueue : firstQueue !== undefined && !isOwnQueue(firstQueue) ? firstQueue : undefined;
    if (q !== undefined) {
      const work = workQueueOf(q);
      claim = { exchange: '', routingKey: work, queue: work, source: q === lastQueue ? 'x-last-death' : 'x-first-death' };
    } else {
      originProblem =
        deaths.length > 0 || firstQueue !== undefined
          ? `it only ever died in '${ctx.queue}' or another dead-letter queue`
          : 'it has neither x-warren-origin-* headers nor x-death: it was published straight to the dead-letter exchange or queue';
    }
  }
  let origin: DeadLetterOrigin | undefined;
  if (claim) {
    const checked = checkOrigin(claim, h, ctx);
    if ('problem' in checked) originProblem = checked.problem;
    else origin = checked.origin;
  }

  const reason =
    kind === 'warren'
      ? (headerString(h[HEADERS.reason]) ?? headerString(h[HEADERS.errorClass]) ?? 'unknown')
      : (latest?.reason ?? headerString(h['x-last-death-reason']) ?? headerString(h['x-first-death-reason']) ?? 'unknown');
  const messageId = headerString(props.messageId);
  // Only a route the topology declares: the route of a job decides who may read its status.
  const headerRoute = asName(h[HEADERS.route]);
  const route = headerRoute !== undefined && ctx.origins.isRoute(headerRoute) ? headerRoute : origin ? dt.routeFor(origin.exchange, origin.routingKey) : undefined;
  const timestamp = headerNumber(props.timestamp);

  return {
    kind,
    reason,
    errorClass: headerString(h[HEADERS.errorClass]),
    errorMessage: headerString(h[HEADERS.errorMessage]),
    route,
    messageId,
    jobId: messageId ?? headerString(props.correlationId),
    origin,
    originProblem,
    failedAt: kind === 'warren' ? warrenFailedAt : (latest?.time ?? warrenFailedAt ?? (timestamp === undefined ? undefined : amqpTimestampToMs(timestamp))),
    attempts: headerCount(h[HEADERS.attempts]) ?? headerCount(h[HEADERS.attempt]),
    requeued: headerCount(h[HEADERS.requeued]) ?? 0,
    deaths,
    orderKey: headerString(h[ORDER_HEADERS.key]),
    blockedBy: reason === REASON_BLOCKED ? headerString(h[ORDER_HEADERS.blockedBy]) : undefined,
  };
}
