import type { MessageProperties, Options } from 'amqplib';
import { normalizeAmqpTimestamp, toAmqpTimestamp } from './amqp-timestamp.ts';
import { headerCount, headerString } from './header-values.ts';
import { BROKER_OWNED_HEADERS, FAILURE_HEADERS, HEADERS } from './headers.ts';
import type { AmqpHeaders } from './job-headers.ts';

/**
 * The AMQP properties of every message warren writes for a job: its first
 * publish, and each republish (retry, dead letter, forward, requeue). One rule
 * for each property, here and nowhere else:
 *
 * - `timestamp`: seconds, as AMQP defines it. A first publish stamps now; a
 *   republish keeps the job's time, converted to seconds when an older writer
 *   put milliseconds there, and stamps now when the message had none.
 * - `deliveryMode`: a first publish is persistent. A republish stays
 *   persistent unless the message was explicitly transient (`deliveryMode` 1):
 *   a message without a delivery mode counts as persistent, because losing a
 *   job on a broker restart is the worse mistake.
 * - `userId`: never written. The broker checks it against the publishing
 *   connection's user, so a copied one from another user would close the
 *   channel (and fail every publish in flight on it).
 * - `expiration`: never copied. A retry sets its own wait; a dead letter or a
 *   requeued job must not expire.
 * - `clusterId`: never copied (deprecated by AMQP 0-9-1).
 * - `mandatory`: always: an unroutable message is an error, not a silent drop.
 * - headers: a republish drops the broker-owned ones (BROKER_OWNED_HEADERS,
 *   `x-first-death-*`, `x-last-death-*`); each kind then writes its own.
 * - everything else (messageId, correlationId, contentType, contentEncoding,
 *   priority, replyTo, type, appId) is kept as the message had it.
 */

/** Content type of every job and event body warren writes. */
export const JSON_CONTENT_TYPE = 'application/json';

/**
 * Properties of a job's first publish (the API, a handler's `ctx.publish`):
 * `id` is the messageId, `appId` names the writing process, `headers` holds
 * only what a first delivery can't tell by itself (route, trace context): the
 * attempt is 1 and the origin is the delivery's exchange and key until a
 * worker republishes the job. Positional, so the API's hot path builds one object per job.
 */
export function firstPublishProperties(id: string, correlationId: string, appId: string, headers: AmqpHeaders, priority?: number): Options.Publish {
  const out: Options.Publish = {
    persistent: true,
    mandatory: true,
    messageId: id,
    correlationId,
    timestamp: toAmqpTimestamp(),
    contentType: JSON_CONTENT_TYPE,
    appId,
    headers,
  };
  if (priority !== undefined) out.priority = priority;
  return out;
}

/** A message's headers without the broker-owned ones: the starting point of every republish. */
export function republishHeaders(headers: AmqpHeaders | undefined): AmqpHeaders {
  const out: AmqpHeaders = {};
  if (!headers) return out;
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    if (BROKER_OWNED_HEADERS.has(k) || k.startsWith('x-first-death-') || k.startsWith('x-last-death-')) continue;
    out[k] = headers[k];
  }
  return out;
}

/** Properties of a republish with `headers` (see the rules at the top of this file). */
export function republishProperties(props: MessageProperties, headers: AmqpHeaders): Options.Publish {
  const out: Options.Publish = { headers, persistent: props.deliveryMode !== 1, mandatory: true };
  const timestamp = typeof props.timestamp === 'number' && Number.isFinite(props.timestamp) ? normalizeAmqpTimestamp(props.timestamp) : toAmqpTimestamp();
  out.timestamp = timestamp;
  if (typeof props.messageId === 'string') out.messageId = props.messageId;
  if (typeof props.correlationId === 'string') out.correlationId = props.correlationId;
  if (typeof props.contentType === 'string') out.contentType = props.contentType;
  if (typeof props.contentEncoding === 'string') out.contentEncoding = props.contentEncoding;
  if (typeof props.priority === 'number') out.priority = props.priority;
  if (typeof props.replyTo === 'string') out.replyTo = props.replyTo;
  if (typeof props.type === 'string') out.type = props.type;
  if (typeof props.appId === 'string') out.appId = props.appId;
  return out;
}

/** Where a job first went: written on every republish so the DLQ tooling can send it back. */
export interface JobOrigin {
  exchange: string;
  routingKey: string;
}

/** A retry: the next attempt, through a wait queue that holds it `delayMs`. */
export interface RetryStamp {
  attempt: number;
  origin: JobOrigin;
  delayMs: number;
  /** Per-message expiry when shorter than the wait queue's TTL (jitter, Retry-After). */
  expiration?: string | undefined;
}

/** Properties of a retry publish into a wait queue. */
export function retryProperties(props: MessageProperties, stamp: RetryStamp): Options.Publish {
  const headers = republishHeaders(props.headers as AmqpHeaders | undefined);
  headers[HEADERS.attempt] = stamp.attempt;
  headers[HEADERS.originExchange] = stamp.origin.exchange;
  headers[HEADERS.originRoutingKey] = stamp.origin.routingKey;
  headers[HEADERS.retryDelay] = stamp.delayMs;
  const out = republishProperties(props, headers);
  if (stamp.expiration !== undefined) out.expiration = stamp.expiration;
  return out;
}

/** Why and where a job died (the error message already scrubbed and truncated). */
export interface DeadLetterStamp {
  errorClass: string;
  errorMessage: string;
  /** `x-warren-reason`: an error class, `attempts-exhausted` or `invalid-payload`. */
  reason: string;
  /** Attempts made (the attempt that failed last). */
  attempts: number;
  origin: JobOrigin;
  /** Queue the job was consumed from. */
  queue: string;
  failedAt: Date;
}

/** Properties of a job warren dead-letters itself (to its queue's dead-letter exchange). */
export function deadLetterProperties(props: MessageProperties, stamp: DeadLetterStamp): Options.Publish {
  const headers = republishHeaders(props.headers as AmqpHeaders | undefined);
  headers[HEADERS.errorClass] = stamp.errorClass;
  headers[HEADERS.errorMessage] = stamp.errorMessage;
  headers[HEADERS.attempts] = stamp.attempts;
  headers[HEADERS.originExchange] = stamp.origin.exchange;
  headers[HEADERS.originRoutingKey] = stamp.origin.routingKey;
  headers[HEADERS.originQueue] = stamp.queue;
  headers[HEADERS.failedAt] = stamp.failedAt.toISOString();
  headers[HEADERS.reason] = stamp.reason;
  return republishProperties(props, headers);
}

/** A forward to a fallback route (`onError: {route}`): attempt 1 there, the route appended to the forward chain. */
export interface ForwardStamp {
  route: string;
  /** The fallback route's exchange and rendered routing key. */
  origin: JobOrigin;
}

/** Properties of a failed job re-published, body untouched, to a fallback route. */
export function forwardProperties(props: MessageProperties, stamp: ForwardStamp): Options.Publish {
  const headers = republishHeaders(props.headers as AmqpHeaders | undefined);
  const previous = headerString(headers[HEADERS.route]);
  const before = headerString(headers[HEADERS.forwardedTo]);
  headers[HEADERS.route] = stamp.route;
  headers[HEADERS.attempt] = 1;
  headers[HEADERS.originExchange] = stamp.origin.exchange;
  headers[HEADERS.originRoutingKey] = stamp.origin.routingKey;
  headers[HEADERS.forwardedTo] = before === undefined || before === '' ? stamp.route : `${before},${stamp.route}`;
  if (previous !== undefined && previous !== '') headers[HEADERS.forwardedFrom] = previous;
  return republishProperties(props, headers);
}

/** What changes when the DLQ tooling sends a dead letter back. */
export interface RequeueStamp {
  /** Where the message is sent. */
  origin: JobOrigin & { queue: string | undefined };
  /** Previous x-warren-requeued value. */
  requeued: number;
  /** Reset x-warren-attempt to 1 (default) or keep it. */
  keepAttempts: boolean;
  /** Set x-warren-route (when --to-route changed the destination). */
  route?: string;
  /** The DLQ it comes from. */
  fromQueue: string;
  now: Date;
}

/**
 * Properties of a requeued dead letter: the republish rule, minus the failure
 * headers (they describe the death being undone; a new failure writes fresh
 * ones), plus the requeue count, time, source and the destination as origin.
 */
export function requeueProperties(props: MessageProperties, stamp: RequeueStamp): Options.Publish {
  const headers = republishHeaders(props.headers as AmqpHeaders | undefined);
  for (const h of FAILURE_HEADERS) delete headers[h];
  headers[HEADERS.requeued] = stamp.requeued + 1;
  // Kept attempts are clamped like every counter: a forged negative attempt must not buy extra retries.
  if (stamp.keepAttempts && headers[HEADERS.attempt] !== undefined) headers[HEADERS.attempt] = Math.max(1, headerCount(headers[HEADERS.attempt]) ?? 1);
  headers[HEADERS.requeuedAt] = stamp.now.toISOString();
  headers[HEADERS.requeuedFrom] = stamp.fromQueue;
  if (!stamp.keepAttempts) headers[HEADERS.attempt] = 1;
  headers[HEADERS.originExchange] = stamp.origin.exchange;
  headers[HEADERS.originRoutingKey] = stamp.origin.routingKey;
  if (stamp.origin.queue !== undefined) headers[HEADERS.originQueue] = stamp.origin.queue;
  else delete headers[HEADERS.originQueue];
  if (stamp.route !== undefined) headers[HEADERS.route] = stamp.route;
  return republishProperties(props, headers);
}

/** Properties of a consumer's result message (`consumers.<name>.results`): a new message about the job, correlated by its id. */
export function resultProperties(jobId: string, route: string | undefined): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    messageId: `${jobId}.result`,
    correlationId: jobId,
    timestamp: toAmqpTimestamp(),
    contentType: JSON_CONTENT_TYPE,
    type: 'job.result',
    headers: { [HEADERS.route]: route ?? '' },
  };
}
