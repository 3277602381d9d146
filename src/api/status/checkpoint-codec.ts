import { z } from 'zod';
import { HEADERS } from '../../jobs/headers.ts';
import { signedEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventSigner, JobEventVerifier, SignatureVerdict } from '../../jobs/job-event-signature.ts';
import { idFilterOf } from './id-filter.ts';
import type { HistorySegment } from './history-segment.ts';

/**
 * The wire format of the job-history checkpoint stream (topology
 * `jobEvents.checkpointStream`). Three kinds of record, each one message,
 * signed like job events (same key, same HMAC over type and body), so nobody
 * who can merely publish to the broker can make a replica look in the wrong
 * place:
 * - `segment`: one closed history segment (offsets, counts, times, id filter);
 * - `marker`: written by a booting replica to learn where the stream ends;
 * - `epoch`: the job-events stream was recreated; records before it describe
 *   a stream that no longer exists.
 * Replicas that cut the same segment write byte-identical records, so a
 * duplicate is harmless: readers keep the first.
 */

/** AMQP `type` of every checkpoint message (what the signature covers along with the body). */
export const CHECKPOINT_TYPE = 'warren.history.v1';

const offset = z.number().int().nonnegative();
const segmentRecordSchema = z.object({
  v: z.literal(1),
  kind: z.literal('segment'),
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
});
const markerRecordSchema = z.object({ v: z.literal(1), kind: z.literal('marker'), id: z.string().min(1).max(100) });
const epochRecordSchema = z.object({ v: z.literal(1), kind: z.literal('epoch'), at: z.string(), reason: z.string().max(500) });
const recordSchema = z.discriminatedUnion('kind', [segmentRecordSchema, markerRecordSchema, epochRecordSchema]);

/** A decoded checkpoint record. */
export type CheckpointRecord = { kind: 'segment'; segment: HistorySegment } | { kind: 'marker'; id: string } | { kind: 'epoch'; at: string; reason: string };

/** Why a checkpoint message was skipped. */
export type CheckpointRejection = Exclude<SignatureVerdict, 'valid'> | 'malformed';

/** The body of a segment record. */
export function encodeSegment(s: HistorySegment): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      kind: 'segment',
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
    }),
  );
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
  return { contentType: 'application/json', persistent: true, timestamp: Date.now(), ...signedEventProperties(signer, CHECKPOINT_TYPE, content) };
}

/** Verifies and decodes one checkpoint message; a rejection names why (never throws). */
export function decodeCheckpoint(
  verifier: JobEventVerifier,
  type: unknown,
  headers: Record<string, unknown> | undefined,
  content: Buffer,
): CheckpointRecord | { rejected: CheckpointRejection } {
  if (type !== CHECKPOINT_TYPE) return { rejected: 'malformed' };
  const verdict = verifier.verify(type, content, headers?.[HEADERS.eventSignature]);
  if (verdict !== 'valid') return { rejected: verdict };
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
  if (r.end < r.start) return { rejected: 'malformed' };
  const bits = Buffer.from(r.bits, 'base64');
  if (bits.length === 0 || bits.length % 64 !== 0) return { rejected: 'malformed' };
  return {
    kind: 'segment',
    segment: {
      start: r.start,
      end: r.end,
      messages: r.messages,
      bytes: r.bytes,
      events: r.events,
      jobs: r.jobs,
      minTs: r.minTs ?? undefined,
      maxTs: r.maxTs ?? undefined,
      anchor: r.anchor,
      // A copy: a view would keep Buffer's shared 8 KiB pool slab alive for every small filter.
      filter: idFilterOf(new Uint8Array(bits), r.k),
    },
  };
}
