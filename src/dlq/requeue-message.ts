import type { MessageProperties, Options } from 'amqplib';
import { HEADERS } from '../jobs/headers.ts';
import { headerCount } from './header-values.ts';

/** Headers the DLQ tooling adds besides those in HEADERS. */
export const DLQ_HEADERS = {
  /** ISO time of the last requeue. */
  requeuedAt: 'x-warren-requeued-at',
  /** Queue the message was requeued from. */
  requeuedFrom: 'x-warren-requeued-from',
} as const;

/**
 * Headers removed on requeue. The broker owns `x-death` / `x-*-death-*` and
 * `x-delivery-count`: RabbitMQ 3.x keeps a republished x-death (and would count
 * on top of it, so an old `delivery_limit` death would look like a new one),
 * 4.x ignores it. Stripping them gives the same behaviour on both, and the
 * origin survives in x-warren-origin-* which we write below. The failure
 * headers describe the death being undone; a new failure writes fresh ones.
 * `CC` / `BCC` are the broker's sender-selected routing: a requeue goes to its
 * origin only, never to queues a header names (a `CC` naming the job-events
 * stream would otherwise plant a copy there).
 */
export const STRIPPED_ON_REQUEUE: readonly string[] = [
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
  HEADERS.errorClass,
  HEADERS.errorMessage,
  HEADERS.failedAt,
  HEADERS.reason,
  HEADERS.attempts,
  'CC',
  'BCC',
];

/** What changes on the way back. */
export interface RequeueStamp {
  /** Where the message is sent. */
  origin: { exchange: string; routingKey: string; queue: string | undefined };
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
 * Properties of the republished message: every AMQP property kept as it was
 * (delivery mode, message id, correlation id, timestamp, content type, ...)
 * except `userId`, headers changed only as described in {@link STRIPPED_ON_REQUEUE}
 * and the stamp. `userId` is dropped because the broker checks it against the
 * publishing connection's user: a dead letter published by another user would
 * have the broker close the requeue channel, failing every message in flight.
 */
export function requeueProperties(props: MessageProperties, stamp: RequeueStamp): Options.Publish {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((props.headers ?? {}) as Record<string, unknown>)) {
    if (!STRIPPED_ON_REQUEUE.includes(k)) headers[k] = v;
  }
  headers[HEADERS.requeued] = stamp.requeued + 1;
  // Kept attempts are clamped like every counter: a forged negative attempt must not buy extra retries.
  if (stamp.keepAttempts && headers[HEADERS.attempt] !== undefined) headers[HEADERS.attempt] = Math.max(1, headerCount(headers[HEADERS.attempt]) ?? 1);
  headers[DLQ_HEADERS.requeuedAt] = stamp.now.toISOString();
  headers[DLQ_HEADERS.requeuedFrom] = stamp.fromQueue;
  if (!stamp.keepAttempts) headers[HEADERS.attempt] = 1;
  headers[HEADERS.originExchange] = stamp.origin.exchange;
  headers[HEADERS.originRoutingKey] = stamp.origin.routingKey;
  if (stamp.origin.queue !== undefined) headers[HEADERS.originQueue] = stamp.origin.queue;
  else delete headers[HEADERS.originQueue];
  if (stamp.route !== undefined) headers[HEADERS.route] = stamp.route;

  const out: Options.Publish = {
    headers,
    // The confirm publisher defaults to persistent; keep the original delivery mode instead.
    persistent: props.deliveryMode === 2,
  };
  const copy = ['contentType', 'contentEncoding', 'priority', 'correlationId', 'replyTo', 'expiration', 'messageId', 'timestamp', 'type', 'appId'] as const;
  for (const key of copy) {
    const v: unknown = props[key];
    if (v !== undefined && v !== null) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}
