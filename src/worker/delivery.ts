import type { Channel, ConsumeMessage } from 'amqplib';
import type { AckBatcher } from './ack-batcher.ts';

/** One consumer channel: deliveries are acked on it, and only while it is open. */
export interface ChannelSession {
  channel: Channel;
  open: boolean;
  consumerTag: string | undefined;
  acks: AckBatcher;
}

/** Why a delivery was taken away from its job. */
export type DeliveryLoss = 'channel-closed' | 'shutdown';

/** One delivery in the worker, from receipt to ack / nack. */
export interface Delivery {
  msg: ConsumeMessage;
  session: ChannelSession;
  /** True once acked, nacked, or dropped with its channel: nothing more may be sent for it. */
  settled: boolean;
  /** Where it is: waiting for a slot, in its handler, or being settled (publishes then ack). */
  state: 'buffered' | 'running' | 'settling';
  /** Set when the delivery was taken away (its job must not publish or ack). */
  lost: DeliveryLoss | undefined;
  /** Validated payload and route (set before dispatch). */
  payload: unknown;
  route: string | undefined;
  attempt: number;
  /** Rate-limit budget keys and the tokens reserved for them. */
  budgetKeys: string[] | undefined;
  tokens: number;
  /** Aborts the running handler (timeout, channel loss, shutdown). */
  abort: { abort(reason: Error): void } | undefined;
  /** When its handler started (performance.now() ms) while its `running` event is still due; 0 otherwise. */
  startedAt: number;
  /** performance.now() ms at which its running handler times out (a monotonic clock: a wall-clock jump does not time jobs out); 0 when not running. */
  deadline: number;
  /** Set when the handler was aborted by the job timeout. */
  timedOut: boolean;
  /** Wakes a publish retry loop waiting on this delivery. */
  wake: (() => void) | undefined;
}

/** Creates the bookkeeping record for a fresh delivery. */
export function createDelivery(session: ChannelSession, msg: ConsumeMessage, attempt: number): Delivery {
  return {
    msg,
    session,
    settled: false,
    state: 'buffered',
    lost: undefined,
    payload: undefined,
    route: undefined,
    attempt,
    budgetKeys: undefined,
    tokens: 0,
    abort: undefined,
    startedAt: 0,
    deadline: 0,
    timedOut: false,
    wake: undefined,
  };
}

/**
 * Acks on the delivery's own channel. A delivery whose channel closed is
 * never acked on another one (that is a 406 `unknown delivery tag` and closes
 * the new channel); the broker redelivers it instead. Returns false when
 * nothing was sent.
 */
export function ackDelivery(d: Delivery): boolean {
  if (d.settled) return false;
  d.settled = true;
  if (!d.session.open) return false;
  // Written at the end of this event-loop turn, coalesced with its neighbours.
  d.session.acks.ack(d.msg.fields.deliveryTag);
  return true;
}

/** Nacks with requeue (shutdown, or work not started): a redelivery, not a failure. */
export function requeueDelivery(d: Delivery): boolean {
  if (d.settled) return false;
  d.settled = true;
  if (!d.session.open) return false;
  try {
    d.session.channel.nack(d.msg, false, true);
    d.session.acks.settled(d.msg.fields.deliveryTag);
    return true;
  } catch {
    return false;
  }
}

/** Marks a delivery as taken away: its handler is aborted and any publish retry loop wakes up and stops. */
export function loseDelivery(d: Delivery, why: DeliveryLoss): void {
  d.lost ??= why;
  d.abort?.abort(new Error(why === 'shutdown' ? 'worker is shutting down' : 'the delivery channel closed'));
  d.wake?.();
}
