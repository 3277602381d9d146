import { z } from 'zod';
import { toAmqpTimestamp } from '../../jobs/amqp-timestamp.ts';
import { HEADERS } from '../../jobs/headers.ts';
import { signedEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventSigner, JobEventVerifier, SignatureVerdict } from '../../jobs/job-event-signature.ts';
import { idFilterOf } from './id-filter.ts';
import type { HistorySegment } from './history-segment.ts';

/**
 * The wire format of the job-history checkpoint stream (topology
 * `jobEvents.checkpointStream`). Four kinds of record, each one message,
 * signed like job events (same key, same HMAC over type and body), so nobody
 * who can merely publish to the broker can make a replica look in the wrong
 * place:
 * - `segment`: one closed history segment (offsets, counts, times, id filter),
 *   with `base`, the checkpoint-stream offset of the newest snapshot its
 *   writer knew: where a booting replica starts reading;
 * - `snapshot`: every segment a replica held, in parts of up to 1,000 segments
 *   (a few MB), so a boot reads a few large messages instead of one message
 *   per segment of a week of history;
 * - `marker`: written by a booting replica to learn where the stream ends;
 * - `epoch`: the job-events stream was recreated; records before it describe
 *   a stream that no longer exists.
 * Replicas that cut the same segment write byte-identical segment records, so
 * a duplicate is harmless: readers keep the first.
 */

/** AMQP `type` of every checkpoint message (what the signature covers along with the body). */
export const CHECKPOINT_TYPE = 'warren.history.v1';
/** AMQP `type` of the dead-letter groups' checkpoints (dead-letter-checkpoints.ts), which share the stream: skipped here, not rejected. */
export const DEAD_LETTERS_CHECKPOINT_TYPE = 'warren.dead-letters.v1';
/** Segments per snapshot part. */
export const SNAPSHOT_PART_SEGMENTS = 1_000;

const offset = z.number().int().nonnegative();
const segmentFields = {
  start: offset,
  end: offset,
  messages: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  jobs: z.number().int().nonnegative(),
  minTs: z.number().nonnegative().nullable(),
  maxTs: z.number().nonnegative().nullable(),
  anchor: z.string().min(1).max(64),
  k: z.number().int().min(1).max(32),
  // Base64 of the filter bits: whole 64-byte blocks, at most 16 MiB.
  bits: z.string().min(12).max(22_369_624),
};
const segmentSchema = z.object(segmentFields);
const segmentRecordSchema = z.object({ v: z.literal(1), kind: z.literal('segment'), base: offset.nullable().default(null), ...segmentFields });
const { bits: _bits, ...segmentMetaFields } = segmentFields;
const segmentMetaSchema = z.object({ ...segmentMetaFields, size: z.number().int().positive().max(16 * 1024 * 1024) });
const snapshotHeaderSchema = z.object({
  v: z.literal(1),
  kind: z.literal('snapshot'),
  id: z.string().min(1).max(100),
  part: z.number().int().nonnegative(),
  parts: z.number().int().positive().max(100_000),
  segments: z.array(segmentMetaSchema).max(SNAPSHOT_PART_SEGMENTS),
});
const markerRecordSchema = z.object({ v: z.literal(1), kind: z.literal('marker'), id: z.string().min(1).max(100) });
const epochRecordSchema = z.object({ v: z.literal(1), kind: z.literal('epoch'), at: z.string(), reason: z.string().max(500) });
const recordSchema = z.discriminatedUnion('kind', [segmentRecordSchema, markerRecordSchema, epochRecordSchema]);
/** First byte of a snapshot part: a binary body (the others are JSON, which never starts with it). */
const SNAPSHOT_MAGIC = 0x00;

/** A decoded checkpoint record. */
export type CheckpointRecord =
  | { kind: 'segment'; segment: HistorySegment; base: number | undefined }
  | { kind: 'snapshot'; id: string; part: number; parts: number; segments: HistorySegment[] }
  | { kind: 'marker'; id: string }
  | { kind: 'epoch'; at: string; reason: string }
  /** A record of another reader of the stream (the dead-letter groups' checkpoints). */
  | { kind: 'other'; type: string };

/** Why a checkpoint message was skipped. */
export type CheckpointRejection = Exclude<SignatureVerdict, 'valid'> | 'malformed';

function segmentJson(s: HistorySegment): Record<string, unknown> {
  return {
    start: s.start,
    end: s.end,
    messages: s.messages,
    bytes: s.bytes,
    events: s.events,
    jobs: s.jobs,
    minTs: s.minTs ?? null,
    maxTs: s.maxTs ?? null,
    anchor: s.anchor,
    k: s.filter.k,
    bits: Buffer.from(s.filter.bits.buffer, s.filter.bits.byteOffset, s.filter.bits.byteLength).toString('base64'),
  };
}

/** The body of a segment record; `base` is the offset of the newest snapshot known. */
export function encodeSegment(s: HistorySegment, base?: number): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'segment', base: base ?? null, ...segmentJson(s) }));
}

/**
 * The bodies of a snapshot of `segments`, one per part. Binary, so a boot
 * parses no base64: a zero byte, the header's length (uint32 BE), a JSON
 * header (each segment's fields and filter size), then the filters' bytes.
 */
export function encodeSnapshot(id: string, segments: readonly HistorySegment[]): Buffer[] {
  const parts = Math.max(1, Math.ceil(segments.length / SNAPSHOT_PART_SEGMENTS));
  return Array.from({ length: parts }, (_, part) => {
    const slice = segments.slice(part * SNAPSHOT_PART_SEGMENTS, (part + 1) * SNAPSHOT_PART_SEGMENTS);
    const header = Buffer.from(
      JSON.stringify({
        v: 1,
        kind: 'snapshot',
        id,
        part,
        parts,
        segments: slice.map((seg) => {
          const { bits: _b, ...meta } = segmentJson(seg);
          return { ...meta, size: seg.filter.bits.byteLength };
        }),
      }),
    );
    const head = Buffer.alloc(5);
    head[0] = SNAPSHOT_MAGIC;
    head.writeUInt32BE(header.length, 1);
    return Buffer.concat([head, header, ...slice.map((seg) => seg.filter.bits)]);
  });
}

function decodeSnapshot(content: Buffer): CheckpointRecord | undefined {
  if (content.length < 5) return undefined;
  const headerLength = content.readUInt32BE(1);
  if (5 + headerLength > content.length) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8', 5, 5 + headerLength));
  } catch {
    return undefined;
  }
  const parsed = snapshotHeaderSchema.safeParse(raw);
  if (!parsed.success || parsed.data.part >= parsed.data.parts) return undefined;
  const h = parsed.data;
  let at = 5 + headerLength;
  const segments: HistorySegment[] = [];
  for (const m of h.segments) {
    if (m.end < m.start || m.size % 64 !== 0 || at + m.size > content.length) return undefined;
    // A copy of its own: a view would keep the whole message alive.
    const bits = new Uint8Array(m.size);
    bits.set(content.subarray(at, at + m.size));
    at += m.size;
    segments.push({
      start: m.start,
      end: m.end,
      messages: m.messages,
      bytes: m.bytes,
      events: m.events,
      jobs: m.jobs,
      minTs: m.minTs ?? undefined,
      maxTs: m.maxTs ?? undefined,
      anchor: m.anchor,
      filter: idFilterOf(bits, m.k),
    });
  }
  if (at !== content.length) return undefined;
  return { kind: 'snapshot', id: h.id, part: h.part, parts: h.parts, segments };
}

/** The body of a marker record. */
export function encodeMarker(id: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'marker', id }));
}

/** The body of an epoch record. */
export function encodeEpoch(reason: string, at = new Date().toISOString()): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'epoch', at, reason: reason.slice(0, 500) }));
}

/** Properties of a checkpoint message: signed like job events. */
export function checkpointProperties(signer: JobEventSigner, content: Buffer): Record<string, unknown> {
  const contentType = content[0] === SNAPSHOT_MAGIC ? 'application/octet-stream' : 'application/json';
  return { contentType, persistent: true, timestamp: toAmqpTimestamp(), ...signedEventProperties(signer, CHECKPOINT_TYPE, content) };
}

function toSegment(r: z.infer<typeof segmentSchema>): HistorySegment | undefined {
  if (r.end < r.start) return undefined;
  const bits = Buffer.from(r.bits, 'base64');
  if (bits.length === 0 || bits.length % 64 !== 0) return undefined;
  return {
    start: r.start,
    end: r.end,
    messages: r.messages,
    bytes: r.bytes,
    events: r.events,
    jobs: r.jobs,
    minTs: r.minTs ?? undefined,
    maxTs: r.maxTs ?? undefined,
    anchor: r.anchor,
    // A small filter is a view on Buffer's shared 8 KiB pool slab: copied, or the slab would stay alive with it.
    filter: idFilterOf(bits.byteLength === bits.buffer.byteLength ? new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength) : new Uint8Array(bits), r.k),
  };
}

/** Verifies and decodes one checkpoint message; a rejection names why (never throws). */
export function decodeCheckpoint(
  verifier: JobEventVerifier,
  type: unknown,
  headers: Record<string, unknown> | undefined,
  content: Buffer,
): CheckpointRecord | { rejected: CheckpointRejection } {
  if (type === DEAD_LETTERS_CHECKPOINT_TYPE) return { kind: 'other', type };
  if (type !== CHECKPOINT_TYPE) return { rejected: 'malformed' };
  const verdict = verifier.verify(type, content, headers?.[HEADERS.eventSignature]);
  if (verdict !== 'valid') return { rejected: verdict };
  if (content[0] === SNAPSHOT_MAGIC) return decodeSnapshot(content) ?? { rejected: 'malformed' };
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch {
    return { rejected: 'malformed' };
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) return { rejected: 'malformed' };
  const r = parsed.data;
  if (r.kind === 'marker') return { kind: 'marker', id: r.id };
  if (r.kind === 'epoch') return { kind: 'epoch', at: r.at, reason: r.reason };
  const segment = toSegment(r);
  return segment === undefined ? { rejected: 'malformed' } : { kind: 'segment', segment, base: r.base ?? undefined };
}
