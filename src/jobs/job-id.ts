import { randomFillSync } from 'node:crypto';

/**
 * Job ids. New jobs get a UUID version 7 (RFC 9562): 48 bits of Unix
 * milliseconds, then 74 random bits. The time in the id is what lets the API
 * find an old job in the job-events stream without reading it all (it knows
 * where to look, and can tell an expired job from one that never existed).
 * Ids of idempotent jobs stay name-based (UUID v5 of the caller, target and
 * key, src/api/jobs/idempotency.ts): they must be the same on every retry.
 */

/** Shape of any job id the API accepts in a path (older ids were v4/v5 UUIDs; messages published to the broker directly may carry others). */
export const JOB_ID_PATTERN = /^[\w.:-]{1,200}$/;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
// Random bytes are drawn 4 KiB at a time: one syscall per 256 ids instead of one per id.
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function random10(): number {
  if (poolAt + 10 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += 10;
  return at;
}

/** A new time-ordered job id (UUID v7) for `now` (Unix ms). */
export function newJobId(now: number = Date.now()): string {
  const r = random10();
  const p = POOL;
  const ms = Math.max(0, Math.floor(now));
  // 48-bit big-endian milliseconds: the high 16 bits, then the low 32.
  const hi = Math.floor(ms / 0x1_0000_0000) & 0xffff;
  const lo = ms >>> 0;
  return (
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[(lo >>> 24) & 0xff]! +
    HEX[(lo >>> 16) & 0xff]! +
    '-' +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (p[r]! & 0x0f)]! +
    HEX[p[r + 1]!]! +
    '-' +
    HEX[0x80 | (p[r + 2]! & 0x3f)]! +
    HEX[p[r + 3]!]! +
    '-' +
    HEX[p[r + 4]!]! +
    HEX[p[r + 5]!]! +
    HEX[p[r + 6]!]! +
    HEX[p[r + 7]!]! +
    HEX[p[r + 8]!]! +
    HEX[p[r + 9]!]!
  );
}

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The creation time (Unix ms) written in a UUID v7 job id; undefined for any other id (v4, v5, foreign). */
export function jobIdTime(id: string): number | undefined {
  if (id.length !== 36 || !V7.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
