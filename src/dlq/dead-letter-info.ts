import type { MessageProperties } from 'amqplib';
import { HEADERS } from '../jobs/headers.ts';
import { epochMs, headerNumber, headerString, headerTime } from './header-values.ts';

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
}

/** What the resolver needs from the topology. */
export interface ResolveContext {
  /** The queue being read (its own x-death entries, e.g. a DLQ with a TTL, are never an origin). */
  queue: string;
  waitQueues: ReadonlyMap<string, string>;
  deadLetterQueues: ReadonlySet<string>;
  routeFor?(exchange: string, routingKey: string): string | undefined;
}

/** Parses `x-death` (most recent first, as the broker keeps it). Malformed entries are skipped. */
export function parseDeaths(value: unknown): DeathEntry[] {
  if (!Array.isArray(value)) return [];
  const out: DeathEntry[] = [];
  for (const raw of value) {
    if (raw === null || typeof raw !== 'object') continue;
    const e = raw as Record<string, unknown>;
    const queue = headerString(e['queue']);
    const reason = headerString(e['reason']);
    if (queue === undefined || reason === undefined) continue;
    const keys = Array.isArray(e['routing-keys']) ? (e['routing-keys'] as unknown[]).map(headerString).filter((k): k is string => k !== undefined) : [];
    const time = headerNumber(e['time']);
    out.push({ queue, reason, exchange: headerString(e['exchange']) ?? '', routingKeys: keys, count: headerNumber(e['count']) ?? 1, time: time === undefined ? undefined : epochMs(time) });
  }
  return out;
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
  const isOwnQueue = (q: string) => q === ctx.queue || ctx.deadLetterQueues.has(q);
  const workQueueOf = (q: string) => ctx.waitQueues.get(q) ?? q;
  const latest = deaths.find((d) => !isOwnQueue(d.queue));
  const latestWork = deaths.find((d) => !isOwnQueue(d.queue) && !ctx.waitQueues.has(d.queue));

  const warrenFailedAt = headerTime(h[HEADERS.failedAt]);
  // A warren dead letter carries x-death only from earlier retries (older than failed-at);
  // a broker death after a warren failure is newer than failed-at.
  const warrenDied = warrenFailedAt !== undefined && (latest?.time === undefined || warrenFailedAt >= latest.time - 1000);
  const kind: DeadLetterKind = warrenDied ? 'warren' : latest ? 'broker' : headerString(h['x-first-death-queue']) !== undefined ? 'broker' : 'unknown';

  const oExchange = headerString(h[HEADERS.originExchange]);
  const oKey = headerString(h[HEADERS.originRoutingKey]);
  const oQueue = headerString(h[HEADERS.originQueue]);
  let origin: DeadLetterOrigin | undefined;
  let originProblem: string | undefined;

  const brokerQueue = latest ? workQueueOf(latest.queue) : undefined;
  if (oExchange !== undefined && oKey !== undefined) {
    const queue = warrenDied ? (oQueue ?? brokerQueue) : (brokerQueue ?? oQueue);
    origin = { exchange: oExchange, routingKey: oKey, queue: queue === undefined ? undefined : workQueueOf(queue), source: 'x-warren-origin' };
  } else if (latest) {
    // The wait queue's own entry records the publish into the wait queue; the work queue's
    // entry (if any) records the publish that reached the work queue.
    if (latestWork && latestWork === latest) {
      origin = { exchange: latest.exchange, routingKey: latest.routingKeys[0] ?? '', queue: latest.queue, source: 'x-death' };
    } else {
      const work = workQueueOf(latest.queue);
      origin = { exchange: '', routingKey: work, queue: work, source: 'x-death' };
    }
  } else if (oQueue !== undefined) {
    origin = { exchange: '', routingKey: workQueueOf(oQueue), queue: workQueueOf(oQueue), source: 'x-warren-origin' };
  } else {
    const lastQueue = headerString(h['x-last-death-queue']);
    const firstQueue = headerString(h['x-first-death-queue']);
    const q = lastQueue !== undefined && !isOwnQueue(lastQueue) ? lastQueue : firstQueue !== undefined && !isOwnQueue(firstQueue) ? firstQueue : undefined;
    if (q !== undefined) {
      const work = workQueueOf(q);
      origin = { exchange: '', routingKey: work, queue: work, source: q === lastQueue ? 'x-last-death' : 'x-first-death' };
    } else {
      originProblem =
        deaths.length > 0 || firstQueue !== undefined
          ? `it only ever died in '${ctx.queue}' or another dead-letter queue`
          : 'it has neither x-warren-origin-* headers nor x-death: it was published straight to the dead-letter exchange or queue';
    }
  }

  const reason =
    kind === 'warren'
      ? (headerString(h[HEADERS.reason]) ?? headerString(h[HEADERS.errorClass]) ?? 'unknown')
      : (latest?.reason ?? headerString(h['x-last-death-reason']) ?? headerString(h['x-first-death-reason']) ?? 'unknown');
  const messageId = headerString(props.messageId);
  const route = headerString(h[HEADERS.route]) ?? (origin && ctx.routeFor ? ctx.routeFor(origin.exchange, origin.routingKey) : undefined);
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
    failedAt: kind === 'warren' ? warrenFailedAt : (latest?.time ?? warrenFailedAt ?? (timestamp === undefined ? undefined : epochMs(timestamp))),
    attempts: headerNumber(h[HEADERS.attempts]) ?? headerNumber(h[HEADERS.attempt]),
    requeued: headerNumber(h[HEADERS.requeued]) ?? 0,
    deaths,
  };
}
