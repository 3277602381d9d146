import type { ConsumeMessage } from 'amqplib';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { HEADERS } from '../../jobs/headers.ts';
import { signedEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventKeyring, SignatureVerdict } from '../../jobs/job-event-signature.ts';
import { JobHistoryError, StreamMissingError } from './history-errors.ts';
import { extractJobIds, messageAnchor, timestampMs, type ExtractedMessage } from './history-segment.ts';
import { INDEX_MARKER_TYPE, decodeJobEvents } from '../../jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE, decodePayloadRecords, payloadFromFields, storedPayload, type StoredPayload } from '../../jobs/job-event-payload.ts';
import type { PlacedEvent } from './job-listing.ts';
import type { StreamReader } from './stream-reader.ts';

/**
 * How the job history reads the job-events stream: the same signature rule
 * as the tail for every message it takes, the boot probes (where the stream
 * ends and starts, what a segment's last message is), and range reads for
 * lookups and listings.
 */
export interface HistoryReads {
  /** Same rule as the tail: `valid` when signed by this deployment, or unsigned history below the cut-off. */
  verdictOf(msg: ConsumeMessage, offset: number): SignatureVerdict;
  accept(msg: ConsumeMessage, offset: number): boolean;
  /** What a segment needs of a message (ids and time only when accepted). */
  extract(msg: ConsumeMessage, offset: number, accepted: boolean): ExtractedMessage;
  /** Appends a signed catch-up marker to the stream. */
  publishIndexMarker(markerId: string): Promise<void>;
  /** Where the stream ends (the marker just appended) and where its last chunk starts. */
  probeEnd(markerId: string): Promise<{ end: number; lastChunk: number }>;
  /** The first retained offset and the time of the oldest accepted message near it (looking no further than `end`). */
  probeFirst(end: number | undefined): Promise<{ offset: number; ts: number | undefined }>;
  /** The content fingerprint of the message at `offset`, or undefined when none came back. */
  anchorAt(offset: number): Promise<string | undefined>;
  /** The accepted events of `id` (or of every job, without `id`) in [start, end], in stream order (payload messages skipped unread). */
  readRange(start: number, end: number, id: string | undefined, out: (p: PlacedEvent) => void): Promise<void>;
  /** The payloads of `id` stored in [start, end] (payload messages, and `queued` events that carry one), in stream order. */
  readPayloads(start: number, end: number, id: string, out: (p: StoredPayload) => void): Promise<void>;
}

const PAYLOAD_KEY = Buffer.from('"payload"');

/** Options of {@link createHistoryReads}. */
export interface HistoryReadsOptions {
  reader: StreamReader;
  publisher: Pick<ConfirmPublisher, 'publish'>;
  keys: JobEventKeyring;
  /** The job-events fanout exchange (markers go through it, like events). */
  exchange: string;
  /** The job-events stream. */
  stream: string;
  /** Unsigned messages below this offset are accepted (WARREN_EVENT_UNSIGNED_BEFORE). */
  unsignedBefore: number | undefined;
  /** Told when a range read failed and is tried once more (what failed). */
  onReadRetry?: (err: unknown) => void;
}

/**
 * The tail's rule for a job-events stream message read back: `valid` when signed by this deployment,
 * or unsigned history below the cut-off (WARREN_EVENT_UNSIGNED_BEFORE).
 */
export function storedMessageVerdict(keys: JobEventKeyring, unsignedBefore: number | undefined, msg: ConsumeMessage, offset: number): SignatureVerdict {
  const verdict = keys.verify(msg.properties.type as string | undefined, msg.content, msg.properties.headers?.[HEADERS.eventSignature]);
  if (verdict === 'unsigned' && unsignedBefore !== undefined && offset < unsignedBefore) return 'valid';
  return verdict;
}

/** Creates the reads. */
export function createHistoryReads(options: HistoryReadsOptions): HistoryReads {
  const verdictOf = (msg: ConsumeMessage, offset: number): SignatureVerdict => storedMessageVerdict(options.keys, options.unsignedBefore, msg, offset);

  function accept(msg: ConsumeMessage, offset: number): boolean {
    return verdictOf(msg, offset) === 'valid';
  }

  function extract(msg: ConsumeMessage, offset: number, accepted: boolean): ExtractedMessage {
    const marker = msg.properties.type === INDEX_MARKER_TYPE;
    // A payloads message names no job in the filters: status lookups never read a segment for a payload (a payload
    // lookup reads the segments of the job's events and their neighbours, where the API wrote its payload).
    const payloads = msg.properties.type === JOB_PAYLOADS_TYPE;
    return {
      offset,
      bytes: msg.content.length,
      ids: accepted && !marker && !payloads ? extractJobIds(msg.content) : [],
      ts: accepted && !marker ? timestampMs(msg.properties.timestamp) : undefined,
      anchor: messageAnchor(msg.content),
    };
  }

  async function publishIndexMarker(markerId: string): Promise<void> {
    const content = Buffer.from(JSON.stringify({ marker: markerId, at: new Date().toISOString() }));
    await options.publisher.publish({
      exchange: options.exchange,
      routingKey: '',
      content,
      properties: { contentType: 'application/json', messageId: markerId, ...signedEventProperties(options.keys, INDEX_MARKER_TYPE, content) },
    });
  }

  /** Where the stream ends: reads its last chunk until the marker just appended. */
  async function probeEnd(markerId: string): Promise<{ end: number; lastChunk: number }> {
    let lastChunk: number | undefined;
    let end: number | undefined;
    await options.reader.read(
      options.stream,
      'last',
      (msg, offset) => {
        lastChunk ??= offset;
        if (msg.properties.messageId === markerId && msg.properties.type === INDEX_MARKER_TYPE) {
          end = offset;
          return false;
        }
        return true;
      },
      { prefetch: 64, idleMs: 10_000 },
    );
    if (end === undefined || lastChunk === undefined) throw new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', 'could not find the end of the job-events stream');
    return { end, lastChunk };
  }

  /** The first retained offset and the time of the oldest accepted message near it (looking no further than `end`). */
  async function probeFirst(end: number | undefined): Promise<{ offset: number; ts: number | undefined }> {
    let first: number | undefined;
    let ts: number | undefined;
    let seen = 0;
    await options.reader.read(
      options.stream,
      'first',
      (msg, offset) => {
        first ??= offset;
        if (msg.properties.type !== INDEX_MARKER_TYPE && accept(msg, offset)) ts = timestampMs(msg.properties.timestamp);
        return ts === undefined && ++seen < 64 && (end === undefined || offset < end);
      },
      // Few messages are wanted: a large prefetch would make the cancel wait behind megabytes of history.
      { prefetch: 4, idleMs: 2_000 },
    );
    if (first === undefined) throw new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', 'the job-events stream returned no message');
    return { offset: first, ts };
  }

  /** The content fingerprint of the message at `offset`, or undefined when the stream has none there. */
  async function anchorAt(offset: number): Promise<string | undefined> {
    let anchor: string | undefined;
    await options.reader.read(
      options.stream,
      offset,
      (msg, at) => {
        if (at === offset) anchor = messageAnchor(msg.content);
        return false;
      },
      { prefetch: 1, idleMs: 2_000 },
    );
    return anchor;
  }

  /**
   * Reads [start, end] and hands each accepted message that names `id` to `take`: markers never, `job.payloads`
   * messages only when `payloads`. A read that fails (its channel closed under it, the stream went quiet before
   * `end`) is tried once more before the error reaches the caller: ranges are immutable, so a second read is the
   * same read, and messages reach `take` only from a read that got through. A missing stream is not retried.
   */
  async function readMessages(start: number, end: number, id: string | undefined, payloads: boolean, take: (msg: ConsumeMessage, offset: number) => void): Promise<void> {
    let got: [ConsumeMessage, number][] = [];
    try {
      await readMessagesOnce(start, end, id, payloads, (msg, offset) => got.push([msg, offset]));
    } catch (err) {
      if (err instanceof StreamMissingError) throw err;
      options.onReadRetry?.(err);
      got = [];
      await readMessagesOnce(start, end, id, payloads, (msg, offset) => got.push([msg, offset]));
    }
    for (const [msg, offset] of got) take(msg, offset);
  }

  async function readMessagesOnce(start: number, end: number, id: string | undefined, payloads: boolean, take: (msg: ConsumeMessage, offset: number) => void): Promise<void> {
    const needle = id === undefined ? undefined : Buffer.from(`"${id}"`);
    let reached = false;
    const how = await options.reader.read(
      options.stream,
      start,
      (msg, offset) => {
        if (offset > end) {
          reached = true;
          return false;
        }
        const type = msg.properties.type;
        if (offset >= start && type !== INDEX_MARKER_TYPE && (payloads || type !== JOB_PAYLOADS_TYPE) && (needle === undefined || msg.content.includes(needle)) && accept(msg, offset)) take(msg, offset);
        if (offset >= end) reached = true;
        return !reached;
      },
      { prefetch: Math.max(1, Math.min(256, end - start + 1)), idleMs: 5_000 },
    );
    if (how === 'idle' && !reached) throw new JobHistoryError('STATUS_HISTORY_UNAVAILABLE', `the job-events stream ended before offset ${end}`);
  }

  /** The accepted events of `id` (or of every job, without `id`) in [start, end], in stream order. */
  async function readRange(start: number, end: number, id: string | undefined, out: (p: PlacedEvent) => void): Promise<void> {
    await readMessages(start, end, id, false, (msg, offset) => {
      const { events } = decodeJobEvents(msg.content);
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (id === undefined || event.jobId === id) out({ offset, idx: i, event });
      }
    });
  }

  async function readPayloads(start: number, end: number, id: string, out: (p: StoredPayload) => void): Promise<void> {
    await readMessages(start, end, id, true, (msg) => {
      if (msg.properties.type === JOB_PAYLOADS_TYPE) {
        for (const r of decodePayloadRecords(msg.content)) if (r.jobId === id) out(payloadFromFields(r));
        return;
      }
      // Only a handler's follow-up job carries its payload on the event itself: most event messages need no decoding.
      if (!msg.content.includes(PAYLOAD_KEY)) return;
      for (const e of decodeJobEvents(msg.content).events) {
        const p = e.jobId === id ? storedPayload(e) : undefined;
        if (p !== undefined) out(p);
      }
    });
  }

  return { verdictOf, accept, extract, publishIndexMarker, probeEnd, probeFirst, anchorAt, readRange, readPayloads };
}
