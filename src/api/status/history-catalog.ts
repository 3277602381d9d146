import { jobIdTime } from '../../jobs/job-id.ts';
import { hashId, type IdHash } from './id-filter.ts';
import type { HistorySegment } from './history-segment.ts';

/**
 * How far the clocks of the processes writing job events may be behind the
 * API that created a job's (time-ordered) id: a lookup of a v7 id skips the
 * segments whose newest message is older than the id's time minus this.
 */
export const CLOCK_SKEW_MS = 10 * 60_000;

/** The closed history segments a replica knows, ordered by offset. */
export interface HistoryCatalog {
  /**
   * Adds a segment. One that overlaps segments already held is dropped, unless
   * `own` (cut by this replica, whose chain must have no holes): then the
   * overlapped ones go. Identical records from several replicas are the
   * common case; overlaps only come from a chain started elsewhere.
   */
  add(segment: HistorySegment, own?: boolean): boolean;
  /** Segments in offset order (do not mutate). */
  all(): readonly HistorySegment[];
  /** Segments that may hold events of the job, oldest first. */
  candidates(id: string, hash?: IdHash): HistorySegment[];
  /** True when some segment ending before `beforeOffset` may hold events of the job. */
  mayHave(id: string, beforeOffset: number, hash?: IdHash): boolean;
  /** The segment holding `offset`, if any. */
  at(offset: number): HistorySegment | undefined;
  /** Offset ranges between held segments, from `from` up to the last one held. */
  holes(from: number): { start: number; end: number }[];
  /** Drops segments that end before `firstOffset` (aged out of the stream). Returns how many. */
  prune(firstOffset: number): number;
  /** Forgets everything (the stream was recreated). */
  clear(): void;
  /** Last offset covered, or undefined when empty. */
  end(): number | undefined;
  /** Totals, for metrics and the retention check. */
  stats(): { segments: number; messages: number; jobs: number; events: number; bytes: number; filterBytes: number; minTs: number | undefined; maxTs: number | undefined };
}

/** Binary search: index of the first segment with end >= offset. */
function firstEndingAtOrAfter(list: readonly HistorySegment[], offset: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.end < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Creates an empty catalog. */
export function createHistoryCatalog(): HistoryCatalog {
  let list: HistorySegment[] = [];
  let filterBytes = 0;

  /** Index of the first segment that may hold events of a v7 id (whose events cannot be older than the id, bar clock skew). */
  function firstPossible(id: string): number {
    const t = jobIdTime(id);
    if (t === undefined) return 0;
    const earliest = t - CLOCK_SKEW_MS;
    // maxTs is not monotonic across segments (several writers' clocks), so this walks from the newest end
    // while segments are plainly too new to stop at, and stops at the first run of older ones.
    let i = list.length;
    while (i > 0) {
      const s = list[i - 1]!;
      if (s.maxTs !== undefined && s.maxTs < earliest) break;
      i--;
    }
    return i;
  }

  return {
    add(segment, own = false) {
      const i = firstEndingAtOrAfter(list, segment.start);
      let j = i;
      while (j < list.length && list[j]!.start <= segment.end) j++;
      if (j > i) {
        const first = list[i]!;
        if (!own || (j === i + 1 && first.start === segment.start && first.end === segment.end)) return false;
        for (const s of list.slice(i, j)) filterBytes -= s.filter.bits.length;
      }
      list.splice(i, j - i, segment);
      filterBytes += segment.filter.bits.length;
      return true;
    },
    all: () => list,
    candidates(id, hash = hashId(id)) {
      const out: HistorySegment[] = [];
      for (let i = firstPossible(id); i < list.length; i++) {
        const s = list[i]!;
        if (s.filter.has(hash)) out.push(s);
      }
      return out;
    },
    mayHave(id, beforeOffset, hash = hashId(id)) {
      for (let i = firstPossible(id); i < list.length; i++) {
        const s = list[i]!;
        if (s.end >= beforeOffset) return false;
        if (s.filter.has(hash)) return true;
      }
      return false;
    },
    at(offset) {
      const s = list[firstEndingAtOrAfter(list, offset)];
      return s !== undefined && s.start <= offset ? s : undefined;
    },
    holes(from) {
      const out: { start: number; end: number }[] = [];
      let expect = from;
      for (const s of list) {
        if (s.end < from) continue;
        if (s.start > expect) out.push({ start: expect, end: s.start - 1 });
        expect = Math.max(expect, s.end + 1);
      }
      return out;
    },
    prune(firstOffset) {
      const i = firstEndingAtOrAfter(list, firstOffset);
      if (i === 0) return 0;
      for (const s of list.slice(0, i)) filterBytes -= s.filter.bits.length;
      list = list.slice(i);
      return i;
    },
    clear() {
      list = [];
      filterBytes = 0;
    },
    end: () => list[list.length - 1]?.end,
    stats() {
      let jobs = 0;
      let messages = 0;
      let events = 0;
      let bytes = 0;
      let minTs: number | undefined;
      let maxTs: number | undefined;
      for (const s of list) {
        jobs += s.jobs;
        messages += s.messages;
        events += s.events;
        bytes += s.bytes;
        if (s.minTs !== undefined && (minTs === undefined || s.minTs < minTs)) minTs = s.minTs;
        if (s.maxTs !== undefined && (maxTs === undefined || s.maxTs > maxTs)) maxTs = s.maxTs;
      }
      return { segments: list.length, messages, jobs, events, bytes, filterBytes, minTs, maxTs };
    },
  };
}
