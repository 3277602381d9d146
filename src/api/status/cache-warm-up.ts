import type { JobEvent } from '../../jobs/job-event.ts';
import type { Logger } from '../../observability/logger.ts';
import type { HistoryCatalog } from './history-catalog.ts';
import type { HistoryReads } from './history-reads.ts';
import type { HistorySegment } from './history-segment.ts';
import { hashId } from './id-filter.ts';
import { INDEX_MARKER_TYPE, decodeJobEvents } from '../../jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE } from '../../jobs/job-event-payload.ts';
import type { JobStatusIndex } from './job-status-index.ts';
import type { StreamReader } from './stream-reader.ts';

/**
 * Fills the status cache with the newest indexed jobs after a replica is
 * ready (its tail already reads from where the index ends): a restarted
 * replica answers recent jobs, and follows their SSE, without a stream lookup
 * each. A job the tail touches meanwhile is left to the tail: its record is
 * marked incomplete and a lookup completes it when it is read.
 */
export interface CacheWarmUp {
  /** Replays [from, to] into the cache, in the background. */
  start(from: number, to: number): void;
  /** Stops a warm-up in progress (the stream was lost). */
  stop(): void;
  /** The tail applied this event: the job is no longer the warm-up's. */
  onTailApplied(event: JobEvent): void;
  isWarming(): boolean;
}

/** Options of {@link createCacheWarmUp}. */
export interface CacheWarmUpOptions {
  reader: StreamReader;
  reads: Pick<HistoryReads, 'accept'>;
  index: JobStatusIndex;
  catalog: HistoryCatalog;
  stream: string;
  logger: Logger;
  /** Called with every job event of the warmed range (which ends where the tail starts): the front door's usage ledger. */
  onEvent?: (event: JobEvent) => void;
}

/** True when one of `segments` may hold the job. */
function anyHolds(segments: readonly HistorySegment[], id: string): boolean {
  if (segments.length === 0) return false;
  const hash = hashId(id);
  return segments.some((s) => s.filter.has(hash));
}

/** Creates the warm-up. */
export function createCacheWarmUp(options: CacheWarmUpOptions): CacheWarmUp {
  const { index, catalog, logger: log } = options;
  let generation = 0;
  let warming = false;
  // The segment being replayed, and the ids seen earlier in it.
  let current: { segment: HistorySegment | undefined; seen: Set<string> } = { segment: undefined, seen: new Set() };
  // The two segments right before where the warm-up starts: only there can a fast worker's events precede a `queued`.
  let before: HistorySegment[] = [];
  // Jobs whose record the warm-up started: it goes on applying their older events until the tail touches them.
  let owned = new Set<string>();
  // Jobs the tail applied events of: never the warm-up's (their newer events would be lost on an eviction).
  let touched = new Set<string>();

  function segmentOf(offset: number): HistorySegment | undefined {
    if (current.segment !== undefined && current.segment.start <= offset && offset <= current.segment.end) return current.segment;
    current = { segment: catalog.at(offset), seen: new Set() };
    return current.segment;
  }

  /** May the stream hold events of the job older than this one? (The tail's question, for a replay of indexed segments.) */
  function mayHave(e: JobEvent, offset: number): boolean {
    const segment = segmentOf(offset);
    if (segment === undefined || current.seen.has(e.jobId)) return true;
    if (e.status === 'queued') return anyHolds(before, e.jobId);
    return catalog.mayHave(e.jobId, segment.start);
  }

  return {
    start(from, to) {
      const mine = ++generation;
      before = catalog.all().filter((s) => s.end < from).slice(-2);
      current = { segment: undefined, seen: new Set() };
      owned = new Set();
      touched = new Set();
      warming = true;
      const started = Date.now();
      let events = 0;
      // After the tail attached (the caller returns its start first): a macrotask later.
      setTimeout(() => {
        options.reader
          .read(
            options.stream,
            from,
            (msg, offset) => {
              if (mine !== generation || offset > to) return false;
              if (msg.properties.type !== INDEX_MARKER_TYPE && msg.properties.type !== JOB_PAYLOADS_TYPE && options.reads.accept(msg, offset)) {
                segmentOf(offset);
                const decoded = decodeJobEvents(msg.content).events;
                for (const e of decoded) {
                  const id = e.jobId;
                  if (touched.has(id)) continue;
                  if (!index.has(id)) {
                    index.apply(e, { complete: !mayHave(e, offset) });
                    owned.add(id);
                  } else if (owned.has(id)) index.apply(e);
                }
                for (const e of decoded) current.seen.add(e.jobId);
                if (options.onEvent !== undefined) for (const e of decoded) options.onEvent(e);
                events += decoded.length;
              }
              return offset < to;
            },
            // Two messages in flight: the warm-up runs beside live traffic, and amqplib hands over every message of a
            // socket read in one go. A message may hold a thousand events (writers batch them); with 16 in flight a
            // restarted replica held its event loop for hundreds of milliseconds at a time (console bench: a request
            // right after a restart took 367-506 ms, GC pauses under 15 ms).
            { prefetch: 2, idleMs: 10_000 },
          )
          .then(() => log.info({ events, jobs: index.size(), ms: Date.now() - started }, 'status cache warmed with the newest jobs'))
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not warm the status cache (lookups fill it instead)'))
          .finally(() => {
            if (mine === generation) {
              warming = false;
              owned = new Set();
              touched = new Set();
            }
          });
      }, 0);
    },
    stop() {
      generation++;
      warming = false;
    },
    onTailApplied(e) {
      if (!warming) return;
      touched.add(e.jobId);
      if (owned.delete(e.jobId)) index.markIncomplete(e.jobId);
    },
    isWarming: () => warming,
  };
}
