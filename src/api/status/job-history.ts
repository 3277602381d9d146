import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { UnroutableError } from '../../errors/index.ts';
import type { JobEvent } from '../../jobs/job-event.ts';
import { jobIdTime } from '../../jobs/job-id.ts';
import type { JobEventKeyring, SignatureVerdict } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import { createCheckpointStore, type CheckpointStore } from './checkpoint-store.ts';
import { hashId } from './id-filter.ts';
import { CLOCK_SKEW_MS, createHistoryCatalog, type HistoryCatalog } from './history-catalog.ts';
import { JobHistoryError, StreamMissingError, partStillIndexing, streamReadError } from './history-errors.ts';
import {
  DEFAULT_SEGMENT_LIMITS,
  createSegmentBuilder,
  messageAnchor,
  type ExtractedMessage,
  type HistorySegment,
  type SegmentBuilder,
  type SegmentLimits,
} from './history-segment.ts';
import { INDEX_MARKER_TYPE } from '../../jobs/job-event-codec.ts';
import { createJobEventsTailer, type JobEventsTailer, type TailStart } from './job-events-tailer.ts';
import { listJobs, type DecodedRange, type ListPage, type ListQuery, type ListingRange, type PlacedEvent } from './job-listing.ts';
import type { JobStatusIndex } from './job-status-index.ts';
import type { JobStatusView } from './job-status.ts';
import { retentionWarning, type RetentionConfig } from './retention-check.ts';
import { createCacheWarmUp } from './cache-warm-up.ts';
import { createHistoryReads } from './history-reads.ts';
import { findStoredPayload } from './job-payload.ts';
import { JOB_PAYLOADS_TYPE, type StoredPayload } from '../../jobs/job-event-payload.ts';
import { createStreamReader, type StreamReader } from './stream-reader.ts';
import { planTailStart } from './tail-start-plan.ts';

/** The answer of a lookup. */
export type FindResult =
  | { found: true; view: JobStatusView; owner: string | undefined }
  /** `expired`: a time-ordered id older than the oldest event the stream holds (the job, if it existed, aged out). */
  | { found: false; expired: boolean; oldestAt: string | undefined };

/** What /readyz and /metrics show of the history. */
export interface HistoryState {
  /** The job-events stream exists and the tail reads it. */
  stream: boolean;
  /** Every retained offset is indexed (false while a first start after an upgrade indexes the stream). */
  indexed: boolean;
  /** The checkpoint stream is there (without it, a restarted replica re-indexes the stream). */
  checkpoints: boolean;
  /** Time (Unix ms) of the oldest event the stream holds. */
  oldestTs: number | undefined;
  segments: number;
  /** Jobs in retention, approximately (ids per segment, summed: a job in two segments counts twice). */
  jobs: number;
  /** Bytes of the segment filters held in memory. */
  filterBytes: number;
  /** Lookups that read the stream, since start. */
  lookups: number;
  /** Messages read by background indexing since start (0 for a replica that booted from checkpoints). */
  backfilled: number;
  /** True while the cache is being filled with the newest jobs after boot. */
  warming: boolean;
  /** Checkpoint messages skipped (unsigned, other key, malformed), since start. */
  checkpointsRejected: number;
  /** Messages skipped by the tail for their signature, and entries skipped as malformed, since start. */
  eventsRejected: number;
  eventsMalformed: number;
}

/** The job history of one replica: the cache-filling tail plus any job the stream still holds. */
export interface JobHistory {
  /** A job by id: from the cache when it holds all of it, else from the stream. Throws JobHistoryError when it can't tell now. */
  find(id: string): Promise<FindResult>;
  /** A page of jobs over the whole retention (see job-listing.ts). */
  list(query: ListQuery): Promise<ListPage>;
  /** The payload the job's `queued` event stored, read from the stream (never cached; see job-payload.ts). Throws JobHistoryError when it can't tell now. */
  payload(id: string): Promise<StoredPayload | undefined>;
  state(): HistoryState;
  /** Resolves true once every retained offset is indexed, false after `timeoutMs`. */
  waitUntilIndexed(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of {@link createJobHistory}. */
export interface JobHistoryOptions {
  connection: BrokerConnection;
  publisher: Pick<ConfirmPublisher, 'publish'>;
  index: JobStatusIndex;
  /** The index's capacity (topology `jobEvents.indexSize`): sizes the warm-up at boot. */
  indexCapacity: number;
  keys: JobEventKeyring;
  /** The job-events fanout exchange. */
  exchange: string;
  /** The job-events stream. */
  stream: string;
  /** The checkpoint stream (topology `jobEvents.checkpointStream`); undefined: none (every start indexes the stream). */
  checkpointStream: string | undefined;
  /** Unsigned messages below this offset are accepted (WARREN_EVENT_UNSIGNED_BEFORE). */
  unsignedBefore?: number;
  /** This process's id on its own event messages (see the batcher). */
  replicaId: string;
  logger: Logger;
  /** Stream retention as configured, for the start-up warning. */
  retention?: RetentionConfig;
  /** Called after each event the stream tail applied to the index (besides the cache warm-up): the front door's usage ledger and cost metrics. */
  onApplied?: (event: JobEvent) => void;
  /** Called with every message the tail handled, after its events were applied (the dead-letter store commits them). */
  onTailMessage?: (msg: ConsumeMessage, offset: number, accepted: boolean) => void;
  /** Called with each checkpoint-stream record of another reader (the dead-letter checkpoints) read at boot or followed since. */
  onCheckpointRecord?: (msg: ConsumeMessage, offset: number) => void;
  /** Called when the tail's start is decided (boot, or a re-attach): it reads from `tailFrom` on. */
  onTailStart?: (tailFrom: number) => void;
  /** Called with each event of the boot warm-up, the newest history before where the tail starts (the front door's usage ledger). */
  onWarmed?: (event: JobEvent) => void;
  limits?: SegmentLimits;
  /**
   * Events of already indexed segments replayed into the cache at boot (the
   * newest ones), so a restarted replica answers recent jobs without a lookup.
   * @default 3 x the index's capacity, at most 300,000
   */
  warmEvents?: number;
  /**
   * If the stream's end is more than this many messages past the indexed part,
   * the replica starts at the end and indexes the rest in the background
   * (ready at once; lookups in that part answer 503 until it is done). @default 256
   */
  bootWindowMessages?: number;
  /** How often the oldest retained event is looked at (metric, expiry). @default 60000 */
  refreshMs?: number;
  /** @default 2000 */
  retryMs?: number;
  /** Called for each tail message skipped for its signature. */
  onRejected?: (reason: Exclude<SignatureVerdict, 'valid'>) => void;
  /** Called with entries skipped as malformed. */
  onMalformed?: (entries: number) => void;
  /** Checkpoint write jitter (tests). */
  checkpointWriteJitterMs?: number;
}

type Mode = 'booting' | 'live' | 'provisional';

interface Gap {
  start: number;
  end: number;
  /** The range up to where the tail started: after it, the backfill's builder continues through the tail's messages. */
  toTail: boolean;
}

/** Creates the history and starts its tail. */
export function createJobHistory(options: JobHistoryOptions): JobHistory {
  const log = options.logger;
  const index = options.index;
  const limits = options.limits ?? DEFAULT_SEGMENT_LIMITS;
  const bootWindow = options.bootWindowMessages ?? 256;
  const retryMs = options.retryMs ?? 2_000;
  const reader: StreamReader = createStreamReader({ connection: options.connection });
  const catalog: HistoryCatalog = createHistoryCatalog();
  const { verdictOf, accept, extract, publishIndexMarker, probeEnd, probeFirst, anchorAt, readRange, readPayloads } = createHistoryReads({
    reader,
    publisher: options.publisher,
    keys: options.keys,
    exchange: options.exchange,
    stream: options.stream,
    unsignedBefore: options.unsignedBefore,
    onReadRetry: (err) => log.warn({ stream: options.stream, err: (err as Error).message }, 'a read of the job-events stream failed; reading it once more'),
  });
  const warmUp = createCacheWarmUp({ reader, reads: { accept }, index, catalog, stream: options.stream, logger: log, ...(options.onWarmed === undefined ? {} : { onEvent: options.onWarmed }) });
  const store: CheckpointStore | undefined =
    options.checkpointStream === undefined
      ? undefined
      : createCheckpointStore({
          connection: options.connection,
          publisher: options.publisher,
          reader,
          keys: options.keys,
          stream: options.checkpointStream,
          logger: log,
          segments: () => catalog.all(),
          snapshotAllowed: () => mode === 'live' && gaps.length === 0,
          ...(options.onCheckpointRecord === undefined ? {} : { onOther: options.onCheckpointRecord }),
          ...(options.checkpointWriteJitterMs === undefined ? {} : { writeJitterMs: options.checkpointWriteJitterMs }),
        });

  let mode: Mode = 'booting';
  let closed = false;
  let builder: SegmentBuilder | undefined;
  let liveFrom = 0;
  let provisional: { from: number; messages: ExtractedMessage[]; ids: Set<string>; last: number } | undefined;
  let gaps: Gap[] = [];
  // The segments that end right before the tail's first offset (see mayHave).
  let beforeTail: HistorySegment[] = [];
  let bootWall = Date.now();
  let oldest: { offset: number; ts: number | undefined } | undefined;
  let streamMissing = false;
  let checkpointsLoaded = false;
  let lookups = 0;
  // The newest message the tail handled: where a re-attach resumes (see resumePoint).
  let lastTail: { offset: number; content: Buffer } | undefined;
  // What the background indexing skipped (the tail counts what it reads itself).
  let backfillRejected = 0;
  let backfillMalformed = 0;
  let backfilled = 0;
  let backfillRunning = false;
  let backfillTimer: NodeJS.Timeout | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  const indexedWaiters = new Set<() => void>();
  const inflight = new Map<string, Promise<FindResult>>();

  function addOwn(segment: HistorySegment): void {
    catalog.add(segment, true);
    store?.write(segment);
  }

  function notifyIndexed(): void {
    if (gaps.length > 0) return;
    for (const w of [...indexedWaiters]) w();
  }

  /** True while part of the stream is not indexed and the job could be in it. */
  function uncertain(id: string): boolean {
    if (gaps.length === 0) return false;
    const t = jobIdTime(id);
    // A job whose time-ordered id is newer than this boot can't have events in the part indexed in the background.
    return t === undefined || t < bootWall + CLOCK_SKEW_MS;
  }

  /**
   * For the tail, about an event of a job the cache does not hold: may the
   * stream hold older events of that job than this one? A `queued` event is a
   * job's first: only events of a fast worker, written just before it (the API
   * batches its `queued` events for up to 100 ms), can precede it, and those
   * the tail read unless they lie just before where it started. Any other
   * event asks every segment that may hold the job (this is what keeps the tail
   * cheap: checking every segment's filter costs a cache miss each).
   */
  function mayHave(e: JobEvent, offset: number): boolean {
    const id = e.jobId;
    if (e.status === 'queued') {
      if (mode === 'live' && builder !== undefined && offset >= liveFrom) return builder.open.has(id) || justBefore(beforeTail, id);
      if (mode === 'provisional' && provisional !== undefined && offset >= provisional.from) return provisional.ids.has(id) || uncertain(id);
      return true;
    }
    const hash = hashId(id);
    if (mode === 'live' && builder !== undefined && offset >= liveFrom) {
      return builder.open.has(id) || catalog.mayHave(id, builder.open.start, hash) || uncertain(id);
    }
    if (mode === 'provisional' && provisional !== undefined && offset >= provisional.from) {
      return provisional.ids.has(id) || catalog.mayHave(id, provisional.from, hash) || uncertain(id);
    }
    return true;
  }

  /** True when one of `segments` (the two right before where a read started) may hold the job. */
  function justBefore(segments: readonly HistorySegment[], id: string): boolean {
    if (segments.length === 0) return false;
    const hash = hashId(id);
    return segments.some((s) => s.filter.has(hash));
  }

  function onTailMessage(msg: ConsumeMessage, offset: number, accepted: boolean): void {
    lastTail = { offset, content: msg.content };
    options.onTailMessage?.(msg, offset, accepted);
    if (mode === 'live' && builder !== undefined) {
      if (offset < liveFrom) return;
      const closed = builder.add(extract(msg, offset, accepted));
      if (closed) addOwn(closed);
    } else if (mode === 'provisional' && provisional !== undefined && offset >= provisional.from) {
      const x = extract(msg, offset, accepted);
      provisional.messages.push(x);
      for (const id of x.ids) provisional.ids.add(id);
      provisional.last = offset;
    }
  }

  async function loadCheckpoints(): Promise<void> {
    if (checkpointsLoaded || store === undefined) return;
    checkpointsLoaded = true;
    try {
      const loaded = await store.load();
      for (const s of loaded.segments) catalog.add(s);
      log.debug({ segments: loaded.segments.length, messages: loaded.messages, rejected: loaded.rejected }, 'read the job-history checkpoints');
    } catch (err) {
      log.warn(
        { err: (err as Error).message, stream: options.checkpointStream },
        err instanceof StreamMissingError
          ? 'no job-history checkpoint stream (run warren topology apply): this replica indexes the job-events stream itself at every start'
          : 'could not read the job-history checkpoints; indexing the job-events stream instead',
      );
    }
    store.follow({
      onSegment: (s) => {
        // Segments written by other replicas fill the parts this one still has to index.
        if (catalog.add(s)) fillGapsFrom(s);
      },
      onRecreated: () => {
        // Give the follower time to read back what the stream still holds (a moved leader, not a deleted stream): only what is missing is written.
        setTimeout(() => {
          for (const s of catalog.all()) store.write(s);
        }, 5_000).unref();
      },
    });
  }

  function fillGapsFrom(s: HistorySegment): void {
    gaps = gaps.filter((g) => g.toTail || !(s.start <= g.start && s.end >= g.end));
    notifyIndexed();
  }

  /**
   * Where a re-attaching tail goes on: right after `resumeAfter` when the
   * stream still holds that message as the tail read it (the same stream, not a
   * recreated one whose offsets start again); undefined when it must not.
   */
  async function resumePoint(resumeAfter: number | undefined, firstOffset: number, end: number): Promise<number | undefined> {
    if (resumeAfter === undefined || lastTail === undefined || lastTail.offset !== resumeAfter) return undefined;
    if (resumeAfter + 1 < firstOffset || resumeAfter >= end) return undefined;
    const anchor = await anchorAt(resumeAfter);
    return anchor !== undefined && anchor === messageAnchor(lastTail.content) ? resumeAfter + 1 : undefined;
  }

  /** Decides where the tail starts (see the boot rules in the README's job-status section). */
  async function startAt(resumeAfter: number | undefined): Promise<TailStart> {
    mode = 'booting';
    bootWall = Date.now();
    const phases: Record<string, number> = {};
    const phase = (name: string, since: number) => (phases[name] = Math.round(performance.now() - since));
    let t = performance.now();
    await loadCheckpoints();
    phase('checkpoints', t);
    t = performance.now();
    const markerId = randomUUID();
    try {
      await publishIndexMarker(markerId);
    } catch (err) {
      if (err instanceof UnroutableError) throw new StreamMissingError(options.stream, err);
      throw err;
    }
    phase('marker', t);
    t = performance.now();
    const { end, lastChunk } = await probeEnd(markerId);
    phase('end', t);
    t = performance.now();
    const first = await probeFirst(end);
    phase('first', t);
    t = performance.now();
    oldest = first;
    catalog.prune(first.offset);
    // Checkpoints of a stream that was deleted and recreated describe other messages.
    const newest = catalog.all()[catalog.all().length - 1];
    let stale = newest !== undefined && newest.end > end;
    if (newest !== undefined && !stale) {
      const anchor = await anchorAt(newest.end);
      // No message there although the stream reaches past it: a failed read, not a new stream (retried by the tail).
      if (anchor === undefined) throw new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', `could not read offset ${newest.end} of the job-events stream`);
      stale = anchor !== newest.anchor;
    }
    if (stale) {
      log.warn({ stream: options.stream, segments: catalog.all().length }, 'the job-history segments describe an earlier job-events stream (it was recreated); re-indexing');
      catalog.clear();
      store?.forget();
      await store?.writeEpoch('job-events stream recreated').catch(() => undefined);
    }
    phase('validate', t);
    const coveredTo = catalog.end();
    const chainStart = coveredTo === undefined ? first.offset : Math.max(coveredTo + 1, first.offset);
    gaps = catalog.holes(first.offset).map((h) => ({ ...h, toTail: false }));
    const resumeFrom = await resumePoint(resumeAfter, first.offset, end);
    if (resumeFrom === undefined && index.size() > 0) {
      // The cache holds records the tail may now never complete (events written between where it was and where it
      // starts): each is completed from the stream at its next read instead of being answered as it is.
      for (const r of index.records()) index.markIncomplete(r.id);
      log.warn({ jobs: index.size(), stream: options.stream }, 'job-events tail re-attached without its position: cached jobs are re-read from the stream on their next lookup');
    }
    const plan = planTailStart({ chainStart, end, lastChunk, bootWindow, ...(resumeFrom === undefined ? {} : { resumeFrom }) });
    const tailFrom = plan.tailFrom;
    if (plan.mode === 'live') {
      builder = createSegmentBuilder(plan.liveFrom, limits);
      liveFrom = plan.liveFrom;
      provisional = undefined;
      mode = 'live';
      if (plan.warm) {
        const from = warmStart(chainStart);
        if (from < chainStart) warmUp.start(from, chainStart - 1);
      }
    } else {
      gaps.push({ start: plan.gapStart, end: plan.tailFrom - 1, toTail: true });
      provisional = { from: plan.tailFrom, messages: [], ids: new Set(), last: plan.tailFrom - 1 };
      builder = undefined;
      mode = 'provisional';
      log.info(
        { from: plan.gapStart, to: plan.tailFrom - 1, stream: options.stream, resume: resumeFrom !== undefined },
        resumeFrom !== undefined
          ? 'job-events tail resumes where it stopped; the segment of what it read before is indexed in the background'
          : 'indexing the job-events stream in the background (first start without checkpoints, or all replicas were down a long time); jobs from that part answer 503 until it is done',
      );
    }
    beforeTail = catalog.all().filter((s) => s.end < tailFrom).slice(-2);
    streamMissing = false;
    scheduleBackfill(0);
    if (gaps.length === 0) store?.snapshotSoon();
    log.info({ tailFrom, end, first: first.offset, segments: catalog.all().length, gaps: gaps.length, ms: phases }, 'job history ready to tail');
    const warning = options.retention === undefined ? undefined : retentionWarning(options.retention, catalog.stats());
    if (warning !== undefined) log.warn(warning.details, warning.message);
    options.onTailStart?.(tailFrom);
    return { offset: tailFrom, markerId };
  }

  /** The oldest offset whose segments (with the open part) hold about `warmEvents` events. */
  function warmStart(chainStart: number): number {
    const budget = options.warmEvents ?? Math.min(300_000, 3 * options.indexCapacity);
    let events = 0;
    let from = chainStart;
    const all = catalog.all();
    for (let i = all.length - 1; i >= 0; i--) {
      const s = all[i]!;
      if (s.end + 1 !== from || events + s.events > budget) break;
      events += s.events;
      from = s.start;
    }
    return from;
  }

  function scheduleBackfill(delay: number): void {
    if (closed || backfillTimer !== undefined || gaps.length === 0) return;
    backfillTimer = setTimeout(() => {
      backfillTimer = undefined;
      void backfill();
    }, delay);
  }

  async function backfill(): Promise<void> {
    if (backfillRunning || closed) return;
    backfillRunning = true;
    try {
      while (gaps.length > 0 && !closed) {
        const gap = gaps[0]!;
        const b = createSegmentBuilder(gap.start, limits);
        const started = Date.now();
        let messages = 0;
        if (gap.end >= gap.start) {
          await reader.read(
            options.stream,
            gap.start,
            (msg, offset) => {
              if (offset > gap.end) return false;
              if (offset >= gap.start) {
                messages++;
                backfilled++;
                let accepted = false;
                if (msg.properties.type !== INDEX_MARKER_TYPE) {
                  const verdict = verdictOf(msg, offset);
                  accepted = verdict === 'valid';
                  if (verdict !== 'valid') {
                    backfillRejected++;
                    options.onRejected?.(verdict);
                  }
                }
                const x = extract(msg, offset, accepted);
                // A message of ours that names no job is not a job-events message (the tail, which decodes, counts each bad entry).
                if (accepted && x.ids.length === 0 && msg.properties.type !== JOB_PAYLOADS_TYPE) {
                  backfillMalformed++;
                  options.onMalformed?.(1);
                }
                const done = b.add(x);
                if (done) addOwn(done);
              }
              return offset < gap.end;
            },
            { prefetch: 256, idleMs: 10_000 },
          );
        }
        if (gap.toTail && provisional !== undefined) {
          // Hand over: the backfill's chain continues through what the tail read since it started, then the tail feeds it.
          for (const x of provisional.messages) {
            const done = b.add(x);
            if (done) addOwn(done);
          }
          builder = b;
          liveFrom = provisional.from;
          provisional = undefined;
          mode = 'live';
        } else {
          const done = b.close();
          if (done) addOwn(done);
        }
        gaps = gaps.filter((g) => g !== gap);
        log.info({ from: gap.start, to: gap.end, messages, ms: Date.now() - started, left: gaps.length }, 'indexed a part of the job-events stream');
      }
      notifyIndexed();
      store?.snapshotSoon();
      if (options.retention !== undefined) {
        const warning = retentionWarning(options.retention, catalog.stats());
        if (warning !== undefined) log.warn(warning.details, warning.message);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'indexing the job-events stream failed; retrying');
      scheduleBackfill(retryMs);
    } finally {
      backfillRunning = false;
    }
  }

  function scheduleRefresh(): void {
    if (closed) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      if (mode === 'booting' || streamMissing) {
        scheduleRefresh();
        return;
      }
      probeFirst(builder?.open.last ?? provisional?.last)
        .then((first) => {
          oldest = first;
          catalog.prune(first.offset);
        })
        .catch(() => undefined)
        .finally(scheduleRefresh);
    }, options.refreshMs ?? 60_000);
    refreshTimer.unref();
  }

  /** The stream ranges that may hold events of `id`, oldest first, up to what the tail has read. */
  function rangesOf(id: string): { start: number; end: number }[] {
    const ranges: { start: number; end: number }[] = catalog.candidates(id).map((s) => ({ start: s.start, end: s.end }));
    if (mode === 'live' && builder !== undefined && builder.open.has(id)) ranges.push({ start: builder.open.start, end: builder.open.last });
    if (mode === 'provisional' && provisional !== undefined && provisional.ids.has(id)) ranges.push({ start: provisional.from, end: provisional.last });
    return ranges;
  }

  /**
   * Where a job's payload may be: the API writes a batch's payloads in a message right beside the batch's events
   * message (job-event-payload.ts), which the id filters do not name, so around each range that holds the job's
   * events: that range with the segments (or the open part) right before and after it.
   */
  function payloadRangesOf(id: string): { start: number; end: number }[] {
    const around = (offset: number): { start: number; end: number } | undefined => {
      const s = catalog.at(offset);
      if (s !== undefined) return { start: s.start, end: s.end };
      if (mode === 'live' && builder !== undefined && offset >= builder.open.start && offset <= builder.open.last) return { start: builder.open.start, end: builder.open.last };
      if (mode === 'provisional' && provisional !== undefined && offset >= provisional.from && offset <= provisional.last) return { start: provisional.from, end: provisional.last };
      return undefined;
    };
    return rangesOf(id).map((r) => ({ start: around(r.start - 1)?.start ?? r.start, end: around(r.end + 1)?.end ?? r.end }));
  }

  async function lookup(id: string): Promise<FindResult> {
    lookups++;
    const unsure = uncertain(id);
    const ranges = rangesOf(id);
    index.beginLookup(id);
    let history: JobEvent[] | undefined;
    try {
      const found: PlacedEvent[] = [];
      await Promise.all(ranges.map((r) => readRange(r.start, r.end, id, (p) => found.push(p))));
      // Ranges are read in parallel: put the events back in stream order (and drop a repeat from overlapping ranges).
      found.sort((a, b) => a.offset - b.offset || a.idx - b.idx);
      history = found.filter((p, i) => i === 0 || p.offset !== found[i - 1]!.offset || p.idx !== found[i - 1]!.idx).map((p) => p.event);
    } catch (err) {
      index.finishLookup(id, undefined);
      throw streamReadError(err);
    }
    const view = index.finishLookup(id, history, !unsure);
    const held = index.peek(id);
    if (view !== undefined && held !== undefined) return { found: true, view: held.view, owner: held.owner };
    if (unsure) throw partStillIndexing();
    return absent(id);
  }

  function absent(id: string): FindResult {
    const t = jobIdTime(id);
    const oldestTs = oldest?.ts;
    return { found: false, expired: t !== undefined && oldestTs !== undefined && t < oldestTs, oldestAt: oldestTs === undefined ? undefined : new Date(oldestTs).toISOString() };
  }

  const tailer: JobEventsTailer = createJobEventsTailer({
    connection: options.connection,
    publisher: options.publisher,
    index,
    exchange: options.exchange,
    stream: options.stream,
    keys: options.keys,
    ...(options.unsignedBefore === undefined ? {} : { unsignedBefore: options.unsignedBefore }),
    ...(options.onRejected === undefined ? {} : { onRejected: options.onRejected }),
    ...(options.onMalformed === undefined ? {} : { onMalformed: options.onMalformed }),
    logger: log,
    replicaId: options.replicaId,
    retryMs,
    startAt,
    mayHaveHistory: (e, offset) => mode !== 'booting' && mayHave(e, offset),
    onApplied: (e) => {
      warmUp.onTailApplied(e);
      options.onApplied?.(e);
    },
    onMessage: onTailMessage,
    onStreamMissing() {
      // Deleted, or only a consumer cancelled (a leader moved): startAt tells them apart when the stream is back,
      // by comparing the newest segment with what the stream holds at its offsets.
      streamMissing = true;
      warmUp.stop();
      mode = 'booting';
      builder = undefined;
      provisional = undefined;
      gaps = [];
      log.warn({ stream: options.stream }, 'lost the job-events stream (deleted, or its consumer cancelled): job history is unavailable until it is back (warren topology apply recreates it)');
    },
  });
  scheduleRefresh();

  const history: JobHistory = {
    find(id) {
      const held = index.peek(id);
      if (held !== undefined && held.complete) return Promise.resolve({ found: true, view: held.view, owner: held.owner });
      if (!index.isCaughtUp() || mode === 'booting') {
        if (streamMissing && held !== undefined) return Promise.resolve({ found: true, view: held.view, owner: held.owner });
        return Promise.reject(
          streamMissing
            ? new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', `the job-events stream '${options.stream}' is missing (run warren topology apply)`, { retryAfterS: 5 })
            : new JobHistoryError('STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly'),
        );
      }
      let p = inflight.get(id);
      if (p === undefined) {
        p = lookup(id).finally(() => inflight.delete(id));
        inflight.set(id, p);
      }
      return p;
    },
    async list(query) {
      if (!index.isCaughtUp() || mode === 'booting') throw new JobHistoryError('STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly');
      if (gaps.length > 0) throw new JobHistoryError('STATUS_HISTORY_INDEXING', 'the job history is still being indexed (first start after an upgrade); retry shortly', { retryAfterS: 5 });
      const ranges: ListingRange[] = [];
      if (mode === 'live' && builder !== undefined && builder.open.last >= builder.open.start) {
        const open = builder.open;
        ranges.push({ start: open.start, end: open.last, minTs: undefined, maxTs: undefined, mayHold: () => true });
      }
      const all = catalog.all();
      for (let i = all.length - 1; i >= 0; i--) {
        const s = all[i]!;
        ranges.push({ start: s.start, end: s.end, minTs: s.minTs, maxTs: s.maxTs, mayHold: (h) => s.filter.has(h) });
      }
      try {
        return await listJobs(
          {
            ranges: () => ranges,
            async read(range): Promise<DecodedRange> {
              const queued: PlacedEvent[] = [];
              const byJob = new Map<string, PlacedEvent[]>();
              await readRange(range.start, range.end, undefined, (p) => {
                if (p.event.status === 'queued') queued.push(p);
                let list = byJob.get(p.event.jobId);
                if (list === undefined) byJob.set(p.event.jobId, (list = []));
                list.push(p);
              });
              return { queued, byJob };
            },
            cached(id) {
              const held = index.peek(id);
              if (held?.complete !== true) return undefined;
              const v = held.view;
              return { id, owner: held.owner, route: v.route, queue: v.queue, status: v.status, createdAt: v.createdAt, updatedAt: v.updatedAt, attempts: v.attempts };
            },
          },
          query,
        );
      } catch (err) {
        throw streamReadError(err);
      }
    },
    async payload(id) {
      if (!index.isCaughtUp() || mode === 'booting') throw new JobHistoryError('STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly');
      lookups++;
      const unsure = uncertain(id);
      let found: StoredPayload | undefined;
      try {
        found = await findStoredPayload(payloadRangesOf(id), readPayloads, id);
      } catch (err) {
        throw streamReadError(err);
      }
      // Its `queued` event may lie in the part still being indexed.
      if (found === undefined && unsure) throw partStillIndexing();
      return found;
    },
    state() {
      const stats = catalog.stats();
      return {
        stream: !streamMissing && tailer.isAttached(),
        indexed: gaps.length === 0 && mode !== 'booting',
        checkpoints: store?.isAvailable() ?? false,
        oldestTs: oldest?.ts,
        segments: stats.segments,
        jobs: stats.jobs,
        filterBytes: stats.filterBytes,
        lookups,
        backfilled,
        warming: warmUp.isWarming(),
        checkpointsRejected: store === undefined ? 0 : Object.values(store.rejected()).reduce((a, b) => a + b, 0),
        eventsRejected: tailer.rejected() + backfillRejected,
        eventsMalformed: tailer.malformed() + backfillMalformed,
      };
    },
    waitUntilIndexed(timeoutMs) {
      if (gaps.length === 0 && mode !== 'booting') return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          indexedWaiters.delete(done);
          resolve(gaps.length === 0 && mode !== 'booting');
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        indexedWaiters.add(done);
      });
    },
    async close() {
      closed = true;
      warmUp.stop();
      if (backfillTimer !== undefined) clearTimeout(backfillTimer);
      if (refreshTimer !== undefined) clearTimeout(refreshTimer);
      await tailer.close();
      await store?.close();
      await reader.close();
    },
  };
  return history;
}
