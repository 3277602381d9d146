import type { JobEvent } from './job-event.ts';

/**
 * A job's payload in the job-events stream (the contract between its writers,
 * the API and a worker's follow-up jobs, and the history that reads it back).
 * The API writes the payloads of a batch of `queued` events in a message of
 * their own ({@link JOB_PAYLOADS_TYPE}) that status readers skip unread; a
 * worker's follow-up job (rare) carries its payload on the `queued` event
 * itself. Either way the body is a JSON *string* holding the message body's
 * text, not a nested object: a string is one copy to decode where an object
 * would be a tree, the id scanner of the history segments (extractJobIds) never
 * mistakes a `"jobId"` inside an escaped string for a record's own, and the
 * download gives back the very bytes that were published.
 */

/** The payload fields of a `queued` event. */
export interface EventPayloadFields {
  payload: string;
  payloadBytes: number;
}

/**
 * The payload fields for a job whose message body is `content`: its first
 * `cap` bytes (cut before a character that would not fit whole, so the text
 * stays valid UTF-8) and the size of the whole body. Undefined when `cap` is 0
 * (payloads are off).
 */
export function eventPayload(content: Buffer, cap: number): EventPayloadFields | undefined {
  if (cap <= 0) return undefined;
  if (content.length <= cap) return { payload: content.toString('utf8'), payloadBytes: content.length };
  let end = cap;
  // UTF-8 continuation bytes are 10xxxxxx: the character at `end` started earlier and is left out whole.
  while (end > 0 && ((content[end] as number) & 0xc0) === 0x80) end--;
  return { payload: content.toString('utf8', 0, end), payloadBytes: content.length };
}

/** A job's payload as its `queued` event stored it. */
export interface StoredPayload {
  /** The stored text: the whole body, or its first part when `truncated`. */
  text: string;
  /** Bytes of the stored text. */
  storedBytes: number;
  /** Bytes of the whole body the job was published with. */
  totalBytes: number;
  /** True when the event holds only the first `storedBytes` of the body (it was cut at `jobEvents.payloadBytes`). */
  truncated: boolean;
}

/** The payload a `queued` event carries; undefined for any other event, or one written without a payload. */
export function storedPayload(event: JobEvent): StoredPayload | undefined {
  if (event.status !== 'queued' || event.payload === undefined) return undefined;
  return payloadFromFields({ payload: event.payload, payloadBytes: event.payloadBytes });
}

/**
 * AMQP `type` of a job-events message that carries payloads: a JSON array of
 * {@link PayloadRecord}s the API writes beside each batch of `queued` events
 * (one message for the events, one for their payloads). Whatever reads status
 * (every replica's tail, lookups, listings, the boot warm-up) skips these
 * messages without decoding them, so payloads cost the status path nothing but
 * the bytes; only a payload lookup decodes them. The history segments' id
 * filters do not name their jobs (status lookups never read a segment for a
 * payload): a payload lookup reads the segments of the job's events and their
 * neighbours, where the API wrote the payload beside the `queued` event.
 */
export const JOB_PAYLOADS_TYPE = 'job.payloads';

/** One job's payload in a {@link JOB_PAYLOADS_TYPE} message: the fields a `queued` event would carry. */
export interface PayloadRecord extends EventPayloadFields {
  jobId: string;
}

/** The records of a {@link JOB_PAYLOADS_TYPE} message; malformed entries are skipped. */
export function decodePayloadRecords(content: Buffer): PayloadRecord[] {
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const out: PayloadRecord[] = [];
  for (const r of raw as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Record<string, unknown>;
    if (typeof o.jobId === 'string' && o.jobId !== '' && typeof o.payload === 'string' && Number.isInteger(o.payloadBytes) && (o.payloadBytes as number) >= 0) {
      out.push({ jobId: o.jobId, payload: o.payload, payloadBytes: o.payloadBytes as number });
    }
  }
  return out;
}

/** The stored payload a record (or a `queued` event's payload fields) describes. */
export function payloadFromFields(fields: { payload: string; payloadBytes?: number | undefined }): StoredPayload {
  const storedBytes = Buffer.byteLength(fields.payload, 'utf8');
  // Without the size (or with a smaller one: a hand-written record) nothing says the payload was cut.
  const totalBytes = Math.max(fields.payloadBytes ?? storedBytes, storedBytes);
  return { text: fields.payload, storedBytes, totalBytes, truncated: totalBytes > storedBytes };
}
