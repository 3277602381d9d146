import { HEADERS } from '../jobs/headers.ts';

/** AMQP headers as amqplib hands them over. */
export type AmqpHeaders = Record<string, unknown>;

/** A header as a string (AMQP may carry it as a string, a Buffer or a number); undefined when absent or empty. */
export function headerString(headers: AmqpHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  const s = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  return s === '' ? undefined : s;
}

/** The attempt this delivery runs (`x-warren-attempt`), 1 when absent or unreadable. Never derived from x-death. */
export function readAttempt(headers: AmqpHeaders | undefined): number {
  const n = Number(headerString(headers, HEADERS.attempt));
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** Routes a job was forwarded to by `onError: {route}` overrides (comma-separated header). */
export const FORWARDED_TO_HEADER = 'x-warren-forwarded-to';

/** Reads the forward chain of a job. */
export function readForwardedTo(headers: AmqpHeaders | undefined): string[] {
  const s = headerString(headers, FORWARDED_TO_HEADER);
  return s === undefined ? [] : s.split(',').filter((x) => x !== '');
}

/**
 * Copies headers without the broker's dead-letter history. Warren keeps its
 * own counters, and an `x-death` left on a message warren republishes would
 * tell the DLQ tooling (and RabbitMQ 4, which ignores it) a wrong story.
 */
export function withoutDeathHeaders(headers: AmqpHeaders | undefined): AmqpHeaders {
  const out: AmqpHeaders = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'x-death' || k.startsWith('x-first-death-') || k.startsWith('x-last-death-')) continue;
    out[k] = v;
  }
  return out;
}
