/**
 * The check of ordered routes (issue #13): a ledger of (key, sequence) pairs
 * in the order the jobs succeeded. Per key, the successful runs must be
 * strictly increasing (a redelivered job that ran twice in a row counts once:
 * at-least-once), and every accepted sequence must be there.
 */
export interface OrderLedger {
  /** Records a successful run. */
  record(key: string, seq: number): void;
  /** Successful runs per key, in order. */
  runs(): ReadonlyMap<string, number[]>;
  /** Runs that went backwards (a lower sequence after a higher one of the same key). */
  outOfOrder(): { key: string; seq: number; after: number }[];
  /** Sequences accepted (`expected`: key -> highest sequence, from 1) that never succeeded. */
  lost(expected: ReadonlyMap<string, number>): { key: string; seq: number }[];
  /** Total successful runs recorded. */
  readonly size: number;
}

/** Creates an empty ledger. */
export function createOrderLedger(): OrderLedger {
  const byKey = new Map<string, number[]>();
  let size = 0;
  return {
    record(key, seq) {
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(seq);
      size++;
    },
    runs: () => byKey,
    outOfOrder() {
      const bad: { key: string; seq: number; after: number }[] = [];
      for (const [key, list] of byKey) {
        let max = 0;
        for (const seq of list) {
          // Equal to the last one: the same job run again after a crash before its ack, not a reordering.
          if (seq < max) bad.push({ key, seq, after: max });
          max = Math.max(max, seq);
        }
      }
      return bad;
    },
    lost(expected) {
      const out: { key: string; seq: number }[] = [];
      for (const [key, last] of expected) {
        const seen = new Set(byKey.get(key) ?? []);
        for (let s = 1; s <= last; s++) if (!seen.has(s)) out.push({ key, seq: s });
      }
      return out;
    },
    get size() {
      return size;
    },
  };
}
