/**
 * Readers for AMQP header values as amqplib decodes them: strings may arrive as
 * Buffers (long strings from some clients), timestamps as `{'!': 'timestamp', value}`
 * (seconds), numbers as numbers or typed objects. Every reader of a header
 * warren (or anyone) wrote goes through these.
 *
 * One rule for `''`: an empty string is a value, not an absent header (the
 * default exchange is named `''`). Absent means missing or null.
 */
import { amqpTimestampToMs } from './amqp-timestamp.ts';

/** A header value as a string: strings, UTF-8 Buffers, numbers and booleans; undefined for anything else (absent, null, tables, arrays). */
export function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A header value as a finite number, or undefined. */
export function headerNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (value !== null && typeof value === 'object' && 'value' in value) return headerNumber((value as { value: unknown }).value);
  return undefined;
}

/** A time header (ISO string, epoch number or AMQP timestamp, in seconds or legacy milliseconds) in ms since the epoch. */
export function headerTime(value: unknown): number | undefined {
  if (typeof value === 'string' && !/^\d+$/.test(value.trim())) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  const n = headerNumber(value);
  return n === undefined ? undefined : amqpTimestampToMs(n);
}

/**
 * A counter header (x-warren-requeued, x-warren-attempt, an x-death count) as a
 * whole number in [0, Number.MAX_SAFE_INTEGER]: negative values count as 0,
 * fractions are rounded down, anything above the range (1e300) is the top of it.
 * A counter is only ever read to decide "how often already": clamping keeps a
 * forged `-1000` from buying 1000 extra requeues, and a forged huge value can
 * only hold a message back, never push it through. Undefined when absent or not
 * a number at all.
 */
export function headerCount(value: unknown): number | undefined {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'string' && value.trim() !== '') n = Number(value);
  else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !Array.isArray(value) && 'value' in value) {
    // amqplib's typed values ({'!': 'long', value}).
    return headerCount((value as { value: unknown }).value);
  }
  if (n === undefined || Number.isNaN(n)) return undefined;
  if (n <= 0) return 0;
  return n >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(n);
}

/**
 * A header that names a queue, an exchange or a routing key: a string, or a
 * Buffer holding valid UTF-8 (some clients send long strings as bytes). Numbers,
 * booleans, tables and arrays are not names (where `headerString` would turn a
 * number into one). Undefined when absent; `{ invalid }` says what it was instead.
 */
export function headerName(value: unknown): string | undefined | { invalid: string } {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) {
    const text = value.toString('utf8');
    return Buffer.from(text, 'utf8').equals(value) ? text : { invalid: 'bytes that are not valid UTF-8' };
  }
  if (value === null) return { invalid: 'null' };
  if (Array.isArray(value)) return { invalid: 'an array' };
  return { invalid: typeof value === 'object' ? 'a table' : `a ${typeof value}` };
}
