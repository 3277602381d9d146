/** Where the job-events tail attaches, and how the segment chain continues from there (see job-history.ts). */
export type TailStartPlan =
  /** The tail reads from `tailFrom` and feeds the segment builder from `liveFrom` on; `warm` fills the cache from older segments first (a boot). */
  | { mode: 'live'; tailFrom: number; liveFrom: number; warm: boolean }
  /** The tail reads from `tailFrom`; `[gapStart, tailFrom - 1]` is indexed in the background and then handed over to the tail. */
  | { mode: 'provisional'; tailFrom: number; gapStart: number };

/** Inputs of {@link planTailStart}. */
export interface TailStartInput {
  /** First offset no segment covers yet (the segment chain continues here). */
  chainStart: number;
  /** Offset of the marker just appended: the stream's end when the tail attaches. */
  end: number;
  /** First offset of the stream's last chunk (where a long catch-up starts instead). */
  lastChunk: number;
  /** Past this many messages between chainStart and end, a boot starts near the end and indexes the rest in the background. */
  bootWindow: number;
  /**
   * Re-attach of a tail whose index applied every event up to `resumeFrom - 1`
   * of this same stream: the tail must go on from there (starting later would
   * leave cached records without the events in between, such as a job that
   * stays 'queued' for good after a cluster restart).
   */
  resumeFrom?: number;
}

/** Decides where the tail attaches: a boot reads at most `bootWindow` messages before it is live; a resume never skips what the index has not applied. */
export function planTailStart(input: TailStartInput): TailStartPlan {
  const { chainStart, end, lastChunk, bootWindow, resumeFrom } = input;
  if (resumeFrom !== undefined) {
    // Events from chainStart up to resumeFrom - 1 are in the index already; only their segment is missing.
    if (resumeFrom <= chainStart) return { mode: 'live', tailFrom: resumeFrom, liveFrom: chainStart, warm: false };
    return { mode: 'provisional', tailFrom: resumeFrom, gapStart: chainStart };
  }
  if (end - chainStart <= bootWindow) return { mode: 'live', tailFrom: chainStart, liveFrom: chainStart, warm: true };
  return { mode: 'provisional', tailFrom: Math.max(lastChunk, chainStart), gapStart: chainStart };
}
