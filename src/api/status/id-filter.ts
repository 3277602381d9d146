/**
 * A Bloom filter over job ids: "which history segments may hold events of
 * this job". A negative answer is certain; a positive one is wrong with
 * probability ~1.3e-5 at the default 28 bits per id (measured: job-id filters
 * of 10,000 ids against 200,000 others), so a lookup over a week of segments
 * reads almost only the segments that hold the job.
 *
 * Blocked: every id's bits lie in one 512-bit block (a cache line), chosen by
 * one hash, so a check costs one memory line and integer arithmetic only
 * (a lookup checks every segment's filter). Deterministic and byte-order
 * free: the same ids give the same bytes on every replica, so the checkpoints
 * several replicas write of one segment are identical.
 */

/** Bits per id: 3.5 bytes per id and segment. */
export const FILTER_BITS_PER_ID = 28;
/** Bits set per id (the best of 10-16 for blocked filters at 28 bits per id). */
export const FILTER_PROBES = 12;
/** Bytes per block: a cache line. */
const BLOCK_BYTES = 64;

/** Two independent 32-bit hashes of an id, computed once and used against every filter. */
export interface IdHash {
  /** Chooses the block. */
  h1: number;
  /** Chooses the bits inside it. */
  h2: number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash pair of an id (FNV-1a over UTF-16 code units with two seeds, murmur3 finaliser). */
export function hashId(id: string): IdHash {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return { h1: fmix32(a), h2: fmix32(b ^ 0x27d4eb2d) };
}

/** A built, read-only filter. */
export interface IdFilter {
  /** Bits per id the filter was sized for times ids, rounded up to whole blocks. */
  readonly bits: Uint8Array;
  readonly k: number;
  /** True when the id may be in the set; false when it certainly is not. */
  has(hash: IdHash): boolean;
}

/** The next bit of an id inside its block: the top 9 bits of a multiplicative mix (positions of one id must not be an arithmetic series, or ids sharing a step share bits). */
function nextBit(x: number): number {
  return Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) ^ 0x297a2d39;
}

/** Wraps serialised bits (a multiple of 64 bytes; see {@link buildIdFilter}). */
export function idFilterOf(bits: Uint8Array, k: number): IdFilter {
  const blocks = Math.max(1, Math.floor(bits.length / BLOCK_BYTES));
  return {
    bits,
    k,
    has({ h1, h2 }) {
      const base = (h1 % blocks) * BLOCK_BYTES;
      let x = h2 | 0;
      for (let i = 0; i < k; i++) {
        x = nextBit(x);
        const bit = x >>> 23;
        if ((bits[base + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
      }
      return true;
    },
  };
}

/** Builds the filter of a set of ids, sized for `count` of them at `bitsPerId` bits each. */
export function buildIdFilter(ids: Iterable<string>, count: number, bitsPerId = FILTER_BITS_PER_ID, k = FILTER_PROBES): IdFilter {
  const blocks = Math.max(1, Math.ceil((Math.max(1, count) * bitsPerId) / (BLOCK_BYTES * 8)));
  const bits = new Uint8Array(blocks * BLOCK_BYTES);
  for (const id of ids) {
    const { h1, h2 } = hashId(id);
    const base = (h1 % blocks) * BLOCK_BYTES;
    let x = h2 | 0;
    for (let i = 0; i < k; i++) {
      x = nextBit(x);
      const bit = x >>> 23;
      bits[base + (bit >>> 3)]! |= 1 << (bit & 7);
    }
  }
  return idFilterOf(bits, k);
}
