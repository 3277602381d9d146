import { HEADERS } from './headers.ts';
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
