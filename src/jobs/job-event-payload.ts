import type { JobEvent } from './job-event.ts';

/**
 * A job's payload on its `queued` event (the contract between whoever writes
 * the event, the API or a worker's follow-up job, and the history that reads
 * it back). The body is carried as a JSON *string* holding the message body's
 * text, not as a nested object: every API replica's stream tail decodes every
 * event, and one string costs it a copy where an object would cost a parse into
 * a tree it would throw away; the id scanner of the history segments
 * (extractJobIds) never mistakes a `"jobId"` inside an escaped string for an
 * event's own; and the download gives back the very bytes that were published.
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
  const storedBytes = Buffer.byteLength(event.payload, 'utf8');
  // An event without the size (or with a smaller one: a hand-written event) says nothing of a cut.
  const totalBytes = Math.max(event.payloadBytes ?? storedBytes, storedBytes);
  return { text: event.payload, storedBytes, totalBytes, truncated: totalBytes > storedBytes };
}
