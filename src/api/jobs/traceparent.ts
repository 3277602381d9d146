import { randomFillSync } from 'node:crypto';

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

// One randomFillSync per 256 ids instead of one per request: trace ids need randomness, not a syscall each.
const pool = Buffer.alloc(16 * 256);
let used = pool.length;

/** `bytes` (<= 16) random bytes as hex, from the pool. */
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString('hex', used, used + bytes);
  used += bytes;
  return hex;
}

/**
 * The W3C `traceparent` to put on the message: continues the caller's trace
 * (same trace id and flags, a new span id for the publish) or starts a new one
 * when the header is absent or invalid.
 */
export function nextTraceparent(incoming: string | undefined): string {
  const spanId = randomHex(8);
  if (incoming !== undefined) {
    const m = TRACEPARENT_RE.exec(incoming.trim().toLowerCase());
    // Version ff and all-zero ids are invalid per the spec: start over rather than propagate them.
    if (m && m[1] !== 'ff' && !/^0+$/.test(m[2] as string) && !/^0+$/.test(m[3] as string)) {
      return `00-${m[2] as string}-${spanId}-${m[4] as string}`;
    }
  }
  return `00-${randomHex(16)}-${spanId}-01`;
}
