/** Options of {@link createBytePacer}. */
export interface BytePacerOptions {
  /** Bytes per second one key's paced work may move. */
  bytesPerSecond: number;
  /** Bytes a key may move at once before pacing starts (a small batch is never slowed). */
  burstBytes: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Paces one key's bulk work to a byte rate: a batch's body is read, and its
 * messages are published, no faster than this per key. The byte rate and the
 * concurrency limits bound how much a key may send over time; this spreads what
 * it was allowed over time too. A 16 MiB batch read and written to the broker
 * at full speed takes both cores of a small machine for a good part of a second
 * (socket writes, the broker's own work), and every other tenant's request
 * waits behind it; paced, it takes a share of them for longer, and requests of
 * other keys go through at their usual speed meanwhile.
 *
 * A virtual schedule per key (the generic cell rate algorithm): each take moves
 * the key's next free time on by `bytes / rate`; it waits only for what lies
 * beyond the burst allowance. Concurrent batches of one key share the key's pace.
 */
export interface BytePacer {
  /** Takes `bytes` of the key's pace: undefined when they may go now, else a promise that resolves when they may. */
  take(key: string, bytes: number): Promise<void> | undefined;
}

/** A pacer that never waits (pacing turned off). */
export const UNPACED: BytePacer = { take: () => undefined };

/** Creates the pacer; `bytesPerSecond` 0 turns pacing off. A key that went quiet takes no memory. */
export function createBytePacer(options: BytePacerOptions): BytePacer {
  if (options.bytesPerSecond <= 0) return UNPACED;
  const now = options.now ?? performance.now.bind(performance);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const msPerByte = 1000 / options.bytesPerSecond;
  const toleranceMs = options.burstBytes * msPerByte;
  /** Per key: when its paced bytes so far are paid for (ms, on `now`'s clock). */
  const due = new Map<string, number>();
  let nextSweep = now() + 60_000;

  return {
    take(key, bytes) {
      const t = now();
      if (t > nextSweep) {
        for (const [k, at] of due) if (at < t) due.delete(k);
        nextSweep = t + 60_000;
      }
      const paid = Math.max(due.get(key) ?? t, t) + bytes * msPerByte;
      due.set(key, paid);
      const wait = paid - toleranceMs - t;
      return wait >= 1 ? sleep(wait) : undefined;
    },
  };
}

/** Bytes of a batch (read or published) that go before its key's pace applies: a batch this small is never slowed. */
export const BATCH_PACE_BURST_BYTES = 256 * 1024;
