/**
 * A Bloom filter over job ids: "which history segments may hold events of
 * this job". A negative answer is certain, a positive one is wrong with
 * probability ~1e-5 at the default 24 bits per id (k = 16), so a lookup over
 * a week of segments reads almost only the segments that hold the job.
 * Deterministic: the same ids give the same bits on every replica, so the
 * checkpoints several replicas write of one segment are identical.
 */

/** Bits per id. 24 bits and 16 probes: ~1e-5 false positives, 3 bytes per id. */
export const FILTER_BITS_PER_ID = 24;
/** Probes per id: round(bitsPerId * ln 2) - 0.6, the optimum rounded down (fewer memory touches). */
export const FILTER_PROBES = 16;

/** Two independent 32-bit hashes of an id, computed once and used against every filter. */
export interface IdHash {
  h1: number;
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

/** The hash pair of an id (FNV-1a over UTF-16 code units, two seeds, murmur3 finaliser). */
export function hashId(id: string): IdHash {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) + 0x27d4eb2d;
  }
  // h2 odd: with an even step some probes could land on the same bit.
  return { h1: fmix32(a), h2: fmix32(b) | 1 };
}

/** A built, read-only filter. */
export interface IdFilter {
  /** Size in bits. */
  readonly m: number;
  readonly k: number;
  readonly bits: Uint8Array;
  /** True when the id may be in the set; false when it certainly is not. */
  has(hash: IdHash): boolean;
}

/** Wraps serialised bits (see {@link buildIdFilter}); `m` is bits.length * 8. */
export function idFilterOf(bits: Uint8Array, k: number): IdFilter {
  const m = bits.length * 8;
  return {
    m,
    k,
    bits,
    has({ h1, h2 }) {
      for (let i = 0; i < k; i++) {
        const bit = (h1 + Math.imul(i, h2)) >>> 0;
        const at = bit % m;
        if ((bits[at >>> 3]! & (1 << (at & 7))) === 0) return false;
      }
      return true;
    },
  };
}

/** Builds the filter of a set of ids (sized for it: `bitsPerId` bits each, at least 64). */
export function buildIdFilter(ids: Iterable<string>, count: number, bitsPerId = FILTER_BITS_PER_ID, k = FILTER_PROBES): IdFilter {
  const bytes = Math.max(8, Math.ceil((Math.max(1, count) * bitsPerId) / 64) * 8);
  const bits = new Uint8Array(bytes);
  const m = bytes * 8;
  for (const id of ids) {
    const { h1, h2 } = hashId(id);
    for (let i = 0; i < k; i++) {
      const at = ((h1 + Math.imul(i, h2)) >>> 0) % m;
      bits[at >>> 3]! |= 1 << (at & 7);
    }
  }
  return idFilterOf(bits, k);
}
