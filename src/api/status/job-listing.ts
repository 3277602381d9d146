import type { JobEvent, JobStatus } from '../../jobs/job-event.ts';
import { hashId, type IdHash } from './id-filter.ts';
import { recordFromEvents } from './job-record.ts';

/** What a listing needs of a job's record (a cached record's view, or one built from the stream). */
export interface ListedRecord {
  id: string;
  owner: string | undefined;
  route: string | undefined;
  queue: string | undefined;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  attempts: readonly unknown[];
}

/**
 * Listing jobs over the whole retention, newest first, paged: the jobs list of
 * a console. A job is listed where its `queued` event is (the API and worker
 * follow-ups write one per job; a message published to the broker directly
 * has none and is not listed). Each page reads the stream ranges it needs
 * (about 1 MiB each) and stops after a bounded number of them, handing back a
 * cursor even if the page is short, so no request scans a week of history.
 */

/** One job in a listing. */
export interface JobSummary {
  id: string;
  route?: string;
  queue?: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  /** Attempts made so far. */
  attempts: number;
}

/** What to list. */
export interface ListQuery {
  route?: string;
  /** Only jobs whose queue (where a worker last took them) is this one. */
  queue?: string;
  /** Only jobs whose id starts with this. */
  idPrefix?: string;
  /** Current statuses to keep (any when absent). */
  statuses?: ReadonlySet<JobStatus>;
  /** Jobs created before this time (ISO or ms), or a cursor from a previous page. */
  before?: { at: number } | { cursor: string };
  /** Jobs created at or after this time (Unix ms). */
  after?: number;
  /** Jobs per page. */
  limit: number;
  /** Whether the caller may see a job submitted by `owner` (undefined: no recorded owner). */
  visible: (owner: string | undefined) => boolean;
}

/** A page; `next` continues the listing where this page stopped. */
export interface ListPage {
  jobs: JobSummary[];
  next?: string;
}

/** A stretch of the stream a listing reads at once: a history segment, or the part not cut into segments yet. */
export interface ListingRange {
  start: number;
  /** Inclusive. */
  end: number;
  minTs: number | undefined;
  maxTs: number | undefined;
  /** True when the range may hold events of the job. */
  mayHold(hash: IdHash): boolean;
}

/** An event and where it is in the stream. */
export interface PlacedEvent {
  offset: number;
  /** Position of the event inside its message. */
  idx: number;
  event: JobEvent;
}

/** The accepted events of a range, grouped. */
export interface DecodedRange {
  /** `queued` events in stream order. */
  queued: PlacedEvent[];
  /** Every event, per job, in stream order. */
  byJob: Map<string, PlacedEvent[]>;
}

/** Where a listing reads from (job-history.ts; a fake in unit tests). */
export interface ListingSource {
  /** Ranges newest first, covering everything indexed. */
  ranges(): ListingRange[];
  read(range: ListingRange): Promise<DecodedRange>;
  /** The cached record of a job, when it holds every event of it. */
  cached(id: string): ListedRecord | undefined;
}

/** Ranges a page reads at most before it returns what it found, with a cursor. */
export const MAX_RANGES_PER_PAGE = 12;
/** Slack on the message timestamps used to skip ranges by time (the writers' clocks and batching). */
const TIME_SLACK_MS = 60_000;

/** A listing position: before this event of the stream, and (when the first page said so) created before `at`. */
export interface ListCursor {
  offset: number;
  idx: number;
  at?: number;
}

/** The cursor of a position in the stream; it carries the page's `before` time, which it replaces on the next page. */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(c.at === undefined ? `${c.offset}.${c.idx}` : `${c.offset}.${c.idx}.${c.at}`).toString('base64url');
}

/** The position in a cursor, or undefined when it is not one. */
export function decodeCursor(cursor: string): ListCursor | undefined {
  const m = /^(\d{1,16})\.(\d{1,6})(?:\.(-?\d{1,16}))?$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) return undefined;
  const offset = Number(m[1]);
  const idx = Number(m[2]);
  if (!Number.isSafeInteger(offset)) return undefined;
  return m[3] === undefined ? { offset, idx } : { offset, idx, at: Number(m[3]) };
}

/** True when `value` is a cursor of either listing (history positions, or the index listing's). */
export function isCursor(value: string): boolean {
  return decodeCursor(value) !== undefined || Buffer.from(value, 'base64url').toString('utf8').startsWith('t:');
}

function summary(r: ListedRecord): JobSummary {
  const s: JobSummary = { id: r.id, status: r.status, createdAt: r.createdAt, updatedAt: r.updatedAt, attempts: r.attempts.length };
  if (r.route !== undefined) s.route = r.route;
  if (r.queue !== undefined) s.queue = r.queue;
  return s;
}

/** Lists one page. */
export async function listJobs(source: ListingSource, query: ListQuery): Promise<ListPage> {
  const cursor = query.before !== undefined && 'cursor' in query.before ? decodeCursor(query.before.cursor) : undefined;
  const beforeAt = query.before !== undefined && 'at' in query.before ? query.before.at : cursor?.at;
  const ranges = source.ranges();
  const decoded = new Map<number, Promise<DecodedRange>>();
  let reads = 0;
  const read = (r: ListingRange): Promise<DecodedRange> => {
    let p = decoded.get(r.start);
    if (p === undefined) {
      reads++;
      decoded.set(r.start, (p = source.read(r)));
    }
    return p;
  };

  /** The job's record: cached, else from its events in this range and every newer range that may hold it. */
  async function recordOf(id: string, homeIndex: number): Promise<ListedRecord | undefined> {
    const cached = source.cached(id);
    if (cached !== undefined) return cached;
    const hash = hashId(id);
    const events: PlacedEvent[] = [];
    // ranges[] is newest first: the home range and everything newer are indexes homeIndex..0.
    for (let i = homeIndex; i >= 0; i--) {
      const r = ranges[i]!;
      if (i !== homeIndex && !r.mayHold(hash)) continue;
      events.push(...((await read(r)).byJob.get(id) ?? []));
    }
    return recordFromEvents(events.map((e) => e.event));
  }

  const jobs: JobSummary[] = [];
  const listed = new Set<string>();
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!;
    if (cursor !== undefined && range.start > cursor.offset) continue;
    if (beforeAt !== undefined && range.minTs !== undefined && range.minTs > beforeAt + TIME_SLACK_MS) continue;
    if (query.after !== undefined && range.maxTs !== undefined && range.maxTs < query.after - TIME_SLACK_MS) break;
    if (reads >= MAX_RANGES_PER_PAGE && !decoded.has(range.start)) {
      // Out of budget: the next page starts at the newest position not looked at.
      return { jobs, next: encodeCursor({ offset: range.end + 1, idx: 0, ...(beforeAt === undefined ? {} : { at: beforeAt }) }) };
    }
    const { queued } = await read(range);
    for (let q = queued.length - 1; q >= 0; q--) {
      const { offset, idx, event } = queued[q]!;
      if (cursor !== undefined && (offset > cursor.offset || (offset === cursor.offset && idx >= cursor.idx))) continue;
      const at = Date.parse(event.at);
      if (beforeAt !== undefined && !(at < beforeAt)) continue;
      if (query.after !== undefined && !(at >= query.after)) continue;
      if (query.route !== undefined && event.route !== query.route) continue;
      if (query.idPrefix !== undefined && !event.jobId.startsWith(query.idPrefix)) continue;
      if (listed.has(event.jobId)) continue;
      const record = await recordOf(event.jobId, i);
      if (record === undefined || !query.visible(record.owner)) continue;
      if (query.statuses !== undefined && !query.statuses.has(record.status)) continue;
      if (query.route !== undefined && record.route !== query.route) continue;
      if (query.queue !== undefined && record.queue !== query.queue) continue;
      listed.add(event.jobId);
      jobs.push(summary(record));
      if (jobs.length >= query.limit) return { jobs, next: encodeCursor({ offset, idx, ...(beforeAt === undefined ? {} : { at: beforeAt }) }) };
    }
  }
  return { jobs };
}

/**
 * A listing of what an index holds, for an API without a job history (unit
 * tests, embedded use): the same query and page shape, newest first by
 * creation time; the cursor is the last job's creation time and id.
 */
export function listFromRecords(records: Iterable<ListedRecord>, query: ListQuery): ListPage {
  let after: { at: string; id: string } | undefined;
  if (query.before !== undefined && 'cursor' in query.before) {
    const m = /^t:(.+)\n(.+)$/s.exec(Buffer.from(query.before.cursor, 'base64url').toString('utf8'));
    if (m) after = { at: m[1]!, id: m[2]! };
  }
  const beforeAt = query.before !== undefined && 'at' in query.before ? query.before.at : undefined;
  const picked: ListedRecord[] = [];
  for (const r of records) {
    const at = Date.parse(r.createdAt);
    if (beforeAt !== undefined && !(at < beforeAt)) continue;
    if (query.after !== undefined && !(at >= query.after)) continue;
    if (after !== undefined && !(r.createdAt < after.at || (r.createdAt === after.at && r.id < after.id))) continue;
    if (query.route !== undefined && r.route !== query.route) continue;
    if (query.queue !== undefined && r.queue !== query.queue) continue;
    if (query.idPrefix !== undefined && !r.id.startsWith(query.idPrefix)) continue;
    if (query.statuses !== undefined && !query.statuses.has(r.status)) continue;
    if (!query.visible(r.owner)) continue;
    picked.push(r);
  }
  picked.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  const page = picked.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    jobs: page.map(summary),
    ...(picked.length > query.limit && last !== undefined ? { next: Buffer.from(`t:${last.createdAt}\n${last.id}`).toString('base64url') } : {}),
  };
}
