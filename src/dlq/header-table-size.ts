/** Encoded size of one typed value (`{'!': type, value}`) by its AMQP type; unknown types get a generous bound. */
const TYPED_BYTES: Record<string, number> = {
  double: 9, float64: 9, float: 5, float32: 5, byte: 2, int8: 2, short: 3, int16: 3, int: 5, int32: 5, long: 9, int64: 9, timestamp: 9, decimal: 6, boolean: 2,
};

function valueBytes(value: unknown, depth: number): number {
  if (depth > 64) throw new Error('headers nest deeper than 64 levels');
  if (value === null || value === undefined) return 1;
  if (typeof value === 'string') return 5 + Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return 9;
  if (typeof value === 'boolean') return 2;
  if (Buffer.isBuffer(value)) return 5 + value.length;
  if (Array.isArray(value)) return 5 + value.reduce<number>((sum, v) => sum + valueBytes(v, depth + 1), 0);
  if (typeof value === 'object') {
    if (Object.hasOwn(value, '!')) {
      const typed = value as { '!': unknown; value: unknown };
      if (typeof typed['!'] === 'string' && typed['!'] in TYPED_BYTES) return TYPED_BYTES[typed['!']] as number;
      return valueBytes(typed.value, depth + 1) + 1;
    }
    return 1 + fieldTableBytes(value as Record<string, unknown>, depth + 1);
  }
  throw new Error(`a header value of type ${typeof value} can't be encoded`);
}

/**
 * Bytes an AMQP field table (message headers) takes on the wire, as amqplib
 * encodes it (an upper bound for typed numbers). Throws when a key is longer
 * than 255 bytes or a value can't be encoded, both of which amqplib would
 * refuse at publish time.
 */
export function fieldTableBytes(table: Record<string, unknown>, depth = 0): number {
  let bytes = 4;
  for (const [key, value] of Object.entries(table)) {
    if (value === undefined) continue;
    const keyBytes = Buffer.byteLength(key, 'utf8');
    if (keyBytes > 255) throw new Error(`header name ${JSON.stringify(key.slice(0, 40))}... is longer than 255 bytes`);
    bytes += 1 + keyBytes + valueBytes(value, depth);
  }
  return bytes;
}

/**
 * Most header bytes a republish may carry: amqplib encodes a message's header
 * table into one 64 KiB buffer and refuses anything larger at publish time.
 */
export const MAX_REPUBLISH_HEADER_BYTES = 65_536;
