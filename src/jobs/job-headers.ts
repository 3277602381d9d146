import { HEADERS } from './headers.ts';
import type { JobEvent } from './job-event.ts';
import { headerCount, headerString } from './header-values.ts';

/** AMQP headers as amqplib hands them over. */
export type AmqpHeaders = Record<string, unknown>;

/** The attempt this delivery runs (`x-warren-attempt`, clamped like every counter), 1 when absent, unreadable or below 1. Never derived from x-death. */
export function readAttempt(headers: AmqpHeaders | undefined): number {
  const n = headerCount(headers?.[HEADERS.attempt]);
  return n === undefined || n < 1 ? 1 : n;
}

/** The route a message names (`x-warren-route`); undefined when absent or empty (no route is named ''). */
export function readRoute(headers: AmqpHeaders | undefined): string | undefined {
  const s = headerString(headers?.[HEADERS.route]);
  return s === '' ? undefined : s;
}

/** Routes a job was forwarded to by `onError: {route}` overrides. */
export function readForwardedTo(headers: AmqpHeaders | undefined): string[] {
  const s = headerString(headers?.[HEADERS.forwardedTo]);
  return s === undefined ? [] : s.split(',').filter((x) => x !== '');
}

/**
 * Where a delivered job first went: its `x-warren-origin-*` headers, else the
 * exchange and routing key of this delivery (a first delivery carries none).
 */
export function readOrigin(headers: AmqpHeaders | undefined, delivery: { exchange: string; routingKey: string }): { exchange: string; routingKey: string } {
  return {
    exchange: headerString(headers?.[HEADERS.originExchange]) ?? delivery.exchange,
    routingKey: headerString(headers?.[HEADERS.originRoutingKey]) ?? delivery.routingKey,
  };
}

/**
 * The `deadLetter` part of a `dead-lettered` / `blocked` job event, read back
 * from the headers of the dead letter being published (deadLetterProperties'
 * output), so the event says exactly what the message says.
 */
export function readDeadLetter(headers: AmqpHeaders | undefined): NonNullable<JobEvent['deadLetter']> {
  return {
    reason: headerString(headers?.[HEADERS.reason]) ?? '',
    originExchange: headerString(headers?.[HEADERS.originExchange]) ?? '',
    originRoutingKey: headerString(headers?.[HEADERS.originRoutingKey]) ?? '',
    failedAt: headerString(headers?.[HEADERS.failedAt]) ?? new Date().toISOString(),
    requeued: headerCount(headers?.[HEADERS.requeued]) ?? 0,
  };
}
