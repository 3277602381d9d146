import { HEADERS } from '../../jobs/headers.ts';

/** A field problem in the shape of every 400's `details`. */
export interface HeaderProblem {
  path: string;
  message: string;
  code: string;
}

/**
 * Header names a client may not set on POST /v1/publish/{exchange}, compared
 * case-insensitively. Each one is read by the broker, a plugin or warren itself,
 * so a client that sets it chooses where a message goes or what it says:
 *
 * - `x-*`: RabbitMQ's and its plugins' namespace (`x-death` / `x-first-death-*`
 *   of dead-lettering, `x-delivery-count` of quorum queues, `x-delay` of the
 *   delayed-message exchange, `x-deduplication-header`, `x-stream-filter-value`,
 *   `x-received-from` of federation, `x-shovelled`, `x-routed-by`, `x-cc` of
 *   AMQP 1.0 ...) and warren's own `x-warren-*`.
 * - `CC`, `BCC`: sender-selected distribution. The broker routes the message to
 *   these extra routing keys, and closes the publishing channel (406
 *   PRECONDITION_FAILED) when the value is not an array of strings: on the
 *   API's shared channel that failed every tenant's in-flight publishes.
 * - `timestamp_in_ms`: written by the broker's timestamp interceptor
 *   (rabbitmq-message-timestamp, `message_interceptors` in 3.12+).
 * - `traceparent`: warren writes the trace context it continues from the request.
 */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('x-') || EXACT.has(lower);
}

const EXACT: ReadonlySet<string> = new Set(['cc', 'bcc', 'timestamp_in_ms', HEADERS.traceparent]);

/** Bytes of an AMQP short string (header names): the broker's and amqplib's limit. */
export const MAX_HEADER_NAME_BYTES = 255;

/**
 * Encoded size of a header table the way amqplib writes it (the table length,
 * then per entry a length-prefixed name, a type tag and the value). Numbers are
 * counted at their widest (8 bytes), so this is an upper bound.
 */
export function encodedHeaderBytes(headers: Readonly<Record<string, string | number | boolean>>): number {
  let bytes = 4;
  for (const [name, value] of Object.entries(headers)) {
    bytes += 1 + Buffer.byteLength(name) + 1;
    if (typeof value === 'string') bytes += 4 + Buffer.byteLength(value);
    else if (typeof value === 'number') bytes += 8;
    else bytes += 1;
  }
  return bytes;
}

/**
 * True when amqplib can encode the number as a header value. It writes
 * integers from 2^50 up to 2^63 (and every integer below -2^50) as a signed
 * 64-bit integer, which throws for values outside int64 and for fractions
 * at that magnitude; a throw there answered 503 instead of 400.
 */
export function isEncodableHeaderNumber(n: number): boolean {
  return Number.isFinite(n) && (Number.isSafeInteger(n) || Math.abs(n) < 2 ** 50 || n >= 2 ** 63);
}

/** Every problem of a client's header table: reserved names and over-long names, each with its field path. */
export function clientHeaderProblems(headers: Readonly<Record<string, unknown>>): HeaderProblem[] {
  const problems: HeaderProblem[] = [];
  for (const name of Object.keys(headers)) {
    const path = `headers.${name}`;
    if (isReservedHeader(name)) {
      problems.push({ path, message: 'reserved header: x-*, CC, BCC, timestamp_in_ms and traceparent are read by the broker or set by warren', code: 'reserved_header' });
    } else if (Buffer.byteLength(name) > MAX_HEADER_NAME_BYTES) {
      problems.push({ path, message: `header name longer than ${MAX_HEADER_NAME_BYTES} bytes (UTF-8)`, code: 'too_big' });
    }
  }
  return problems;
}
