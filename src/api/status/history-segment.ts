import { createHash } from 'node:crypto';
import { amqpTimestampToMs } from '../../jobs/amqp-timestamp.ts';
import { buildIdFilter, type IdFilter } from './id-filter.ts';
import { decodeJobEvents } from '../../jobs/job-event-codec.ts';

/**
 * History segments: consecutive ranges of the job-events stream, each with a
 * filter of the job ids it holds. They are what a replica needs to find any
 * job the stream still holds without reading the stream at boot: a lookup
 * reads only the segments whose filter names the job (about 1 MiB each).
 *
 * Boundaries depend only on the stream's raw messages (sizes and counts, not
 * on which messages verify), and a segment starts right after the previous
 * one ends, so every replica that continues the same chain cuts the same
 * segments and writes identical checkpoints.
 */

/** When a segment is closed: whichever limit is reached first. */
export interface SegmentLimits {
  /** Bytes of message bodies per segment: what a lookup reads at most per segment. @default 1 MiB */
  maxBytes: number;
  /** Messages per segment (many tiny messages cost more to deliver than their bytes say). @default 4096 */
  maxMessages: number;
}

/** Defaults of {@link SegmentLimits}. */
export const DEFAULT_SEGMENT_LIMITS: SegmentLimits = { maxBytes: 1024 * 1024, maxMessages: 4096 };

/** A closed segment: the offsets it spans and what it holds. */
export interface HistorySegment {
  /** First stream offset of the segment. */
  start: number;
  /** Last stream offset of the segment (inclusive). */
  end: number;
  messages: number;
  /** Bytes of message bodies. */
  bytes: number;
  /** Job events in accepted messages (occurrences of a job id). */
  events: number;
  /** Distinct job ids in accepted messages. */
  jobs: number;
  /** Oldest and newest AMQP timestamp (Unix ms) of accepted messages; undefined when none carried one. */
  minTs: number | undefined;
  maxTs: number | undefined;
  /** Fingerprint of the message at `end`: tells whether a checkpoint still describes this stream (it may have been deleted and recreated). */
  anchor: string;
  filter: IdFilter;
}

/** What the history needs of one stream message, extracted once by whoever read it (tail or backfill). */
export interface ExtractedMessage {
  offset: number;
  bytes: number;
  /** Job ids of an accepted message (signed by this deployment, or unsigned history below the cut-off); empty otherwise. */
  ids: string[];
  /** Timestamp (Unix ms) of an accepted message. */
  ts: number | undefined;
  anchor: string;
}

/** AMQP timestamps are seconds by the spec; warren's event messages were written in milliseconds. Both come out as ms. */
export function timestampMs(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  return amqpTimestampToMs(value);
}

/** Fingerprint of a message for {@link HistorySegment.anchor}: its length and first 512 bytes. */
export function messageAnchor(content: Buffer): string {
  return createHash('sha256').update(String(content.length)).update('\n').update(content.subarray(0, 512)).digest('base64url').slice(0, 22);
}

const KEY = Buffer.from('"jobId"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * The job ids in a job-events message body, without parsing it: every
 * `"jobId": "<id>"`. A `jobId` key nested inside a result is picked up too,
 * which only makes the filter hold one id more (a lookup then reads one
 * segment for nothing). Anything unusual (an escape inside an id) falls back to
 * the full decoder.
 */
export function extractJobIds(content: Buffer): string[] {
  const ids: string[] = [];
  let from = 0;
  for (;;) {
    const at = content.indexOf(KEY, from);
    if (at < 0) return ids;
    let i = at + KEY.length;
    while (isSpace(content[i])) i++;
    if (content[i] !== 0x3a) {
      from = at + 1;
      continue;
    }
    i++;
    while (isSpace(content[i])) i++;
    if (content[i] !== QUOTE) {
      from = at + 1;
      continue;
    }
    const start = i + 1;
    const end = content.indexOf(QUOTE, start);
    if (end < 0) return ids;
    const slice = content.subarray(start, end);
    if (slice.includes(BACKSLASH)) return decodeJobEvents(content).events.map((e) => e.jobId);
    if (end > start) ids.push(slice.toString('latin1'));
    from = end + 1;
  }
}

/** The segment being filled. */
export interface OpenSegment {
  readonly start: number;
  /** Last offset added, or start - 1. */
  readonly last: number;
  readonly messages: number;
  /** True when the id was in a message added to this segment so far (exact). */
  has(id: string): boolean;
}

/** Cuts the stream into segments. */
export interface SegmentBuilder {
  /** Adds the next message (offsets must increase). Returns the segment it closed, if any. */
  add(msg: ExtractedMessage): HistorySegment | undefined;
  /** Closes the open segment now (a backfill reaching the end of its range); undefined when it is empty. */
  close(): HistorySegment | undefined;
  readonly open: OpenSegment;
}

/** Creates a builder whose first segment starts at `start`. */
export function createSegmentBuilder(start: number, limits: SegmentLimits = DEFAULT_SEGMENT_LIMITS): SegmentBuilder {
  let segStart = start;
  let last = start - 1;
  let messages = 0;
  let bytes = 0;
  let events = 0;
  let ids = new Set<string>();
  let minTs: number | undefined;
  let maxTs: number | undefined;
  let anchor = '';

  function closeNow(): HistorySegment | undefined {
    if (messages === 0) return undefined;
    const segment: HistorySegment = {
      start: segStart,
      end: last,
      messages,
      bytes,
      events,
      jobs: ids.size,
      minTs,
      maxTs,
      anchor,
      filter: buildIdFilter(ids, ids.size),
    };
    segStart = last + 1;
    messages = 0;
    bytes = 0;
    events = 0;
    ids = new Set();
    minTs = undefined;
    maxTs = undefined;
    anchor = '';
    return segment;
  }

  const open: OpenSegment = {
    get start() {
      return segStart;
    },
    get last() {
      return last;
    },
    get messages() {
      return messages;
    },
    has: (id) => ids.has(id),
  };

  return {
    open,
    add(msg) {
      if (msg.offset <= last) return undefined;
      last = msg.offset;
      messages++;
      bytes += msg.bytes;
      events += msg.ids.length;
      for (const id of msg.ids) ids.add(id);
      if (msg.ts !== undefined) {
        if (minTs === undefined || msg.ts < minTs) minTs = msg.ts;
        if (maxTs === undefined || msg.ts > maxTs) maxTs = msg.ts;
      }
      anchor = msg.anchor;
      return bytes >= limits.maxBytes || messages >= limits.maxMessages ? closeNow() : undefined;
    },
    close: closeNow,
  };
}
