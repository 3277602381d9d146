/**
 * Failure groups of a queue, remembered between requests. Counting groups
 * reads the whole queue through the exclusive snapshot reader, which returns
 * every message in order at the end: seconds for tens of thousands of dead
 * letters, and no second reader can run meanwhile (the console's overview and
 * groups page would otherwise collide with each other and with a requeue).
 *
 * So: one scan at a time per queue and query (concurrent callers share it),
 * and a result is reused while it is younger than `maxAgeMs`, the queue holds
 * the same number of messages as when it was counted, and no requeue or purge
 * ran through this process since. Every answer says when it was counted.
 */
export interface GroupsCache<R> {
  /**
   * The cached result when still valid, else a fresh scan (shared with concurrent callers). `mode`:
   * `fresh` always scans; `stale` takes the last result whatever its age or the depth since, and
   * scans only when there is none (for summaries that must not hold the queue on every view).
   */
  get(queue: string, key: string, mode: 'valid' | 'fresh' | 'stale', scan: () => Promise<R>): Promise<R & { scannedAt: string; cached: boolean }>;
  /** Forgets every result of `queue` (after a requeue or purge). */
  invalidate(queue: string): void;
}

/** Counts kept at most (queue and filter sets together). */
export const MAX_ENTRIES = 64;

interface Entry<R> {
  result: R;
  at: number;
  depth: number;
}

/** Creates the cache over a scan and a cheap depth probe (a passive queue declare). */
export function createGroupsCache<R extends object>(deps: {
  depth: (queue: string) => Promise<number>;
  maxAgeMs: number;
  now?: () => number;
}): GroupsCache<R> {
  const now = deps.now ?? Date.now;
  const entries = new Map<string, Entry<R>>();
  const inFlight = new Map<string, Promise<Entry<R>>>();
  const id = (queue: string, key: string) => `${queue}\0${key}`;
  return {
    async get(queue, key, mode, scan) {
      const k = id(queue, key);
      const entry = entries.get(k);
      if (mode === 'stale' && entry !== undefined) return { ...entry.result, scannedAt: new Date(entry.at).toISOString(), cached: true };
      if (mode === 'valid' && entry !== undefined && now() - entry.at < deps.maxAgeMs && (await deps.depth(queue)) === entry.depth && entries.get(k) === entry) {
        return { ...entry.result, scannedAt: new Date(entry.at).toISOString(), cached: true };
      }
      let p = inFlight.get(k);
      if (p === undefined) {
        p = (async () => {
          const at = now();
          const depth = await deps.depth(queue);
          const result = await scan();
          const e = { result, at, depth };
          entries.delete(k);
          entries.set(k, e);
          // Bounded: each filter set is an entry; the oldest counts go first.
          for (const old of entries.keys()) {
            if (entries.size <= MAX_ENTRIES) break;
            entries.delete(old);
          }
          return e;
        })().finally(() => inFlight.delete(k));
        inFlight.set(k, p);
      }
      const e = await p;
      return { ...e.result, scannedAt: new Date(e.at).toISOString(), cached: false };
    },
    invalidate(queue) {
      for (const k of [...entries.keys()]) if (k.startsWith(`${queue}\0`)) entries.delete(k);
    },
  };
}
