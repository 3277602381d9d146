/**
 * Readers for AMQP header values as amqplib decodes them: strings may arrive as
 * Buffers (long strings from some clients), timestamps as `{'!': 'timestamp', value}`
 * (seconds), numbers as numbers or typed objects.
 */

/** A header value as a string, or undefined. */
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

/** AMQP timestamps are seconds; warren's job events use ms. Anything above 1e11 is taken as ms. */
export function epochMs(seconds: number): number {
  return seconds > 1e11 ? seconds : seconds * 1000;
}

/** A time header (ISO string, epoch number or AMQP timestamp) in ms since the epoch. */
export function headerTime(value: unknown): number | undefined {
  if (typeof value === 'string' && !/^\d+$/.test(value.trim())) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  const n = headerNumber(value);
  return n === undefined ? undefined : epochMs(n);
}
