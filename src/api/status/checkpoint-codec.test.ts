import { describe, expect, it } from 'vitest';
import { HEADERS } from '../../jobs/headers.ts';
import { createJobEventKeyring } from '../../jobs/job-event-signature.ts';
import { CHECKPOINT_TYPE, checkpointProperties, decodeCheckpoint, encodeEpoch, encodeMarker, encodeSegment } from './checkpoint-codec.ts';
import { createSegmentBuilder } from './history-segment.ts';
import { hashId } from './id-filter.ts';

const keys = createJobEventKeyring('unit-test-event-key-0123456789', '/');
const other = createJobEventKeyring('another-event-key-0123456789', '/');

function segment() {
  const b = createSegmentBuilder(40, { maxBytes: 1e9, maxMessages: 3 });
  b.add({ offset: 40, bytes: 10, ids: ['j1', 'j2'], ts: 5_000, anchor: 'x' });
  b.add({ offset: 41, bytes: 10, ids: ['j3'], ts: undefined, anchor: 'y' });
  return b.add({ offset: 43, bytes: 10, ids: [], ts: 4_000, anchor: 'z' })!;
}

function decode(content: Buffer, props: Record<string, unknown>, verifier = keys) {
  return decodeCheckpoint(verifier, props.type, props.headers as Record<string, unknown>, content);
}

describe('checkpoint records', () => {
  it('round-trip a segment: offsets, counts, times, anchor and filter', () => {
    const s = segment();
    const content = encodeSegment(s);
    const r = decode(content, checkpointProperties(keys, content));
    if (!('kind' in r) || r.kind !== 'segment') throw new Error(JSON.stringify(r));
    expect({ ...r.segment, filter: undefined }).toEqual({ ...s, filter: undefined });
    expect(Buffer.from(r.segment.filter.bits).equals(Buffer.from(s.filter.bits))).toBe(true);
    expect(['j1', 'j2', 'j3'].every((id) => r.segment.filter.has(hashId(id)))).toBe(true);
    // Replicas that cut the same segment write the same bytes.
    expect(encodeSegment(segment()).equals(content)).toBe(true);
  });

  it('carry their write time as an AMQP timestamp in whole seconds, as every warren message does', () => {
    const before = Math.floor(Date.now() / 1000);
    const props = checkpointProperties(keys, encodeMarker('m'));
    const after = Math.ceil(Date.now() / 1000);
    expect(props.timestamp).toBeGreaterThanOrEqual(before);
    expect(props.timestamp).toBeLessThanOrEqual(after);
  });

  it('round-trip markers and epochs', () => {
    const m = encodeMarker('m-1');
    expect(decode(m, checkpointProperties(keys, m))).toEqual({ kind: 'marker', id: 'm-1' });
    const e = encodeEpoch('recreated', '2026-01-01T00:00:00.000Z');
    expect(decode(e, checkpointProperties(keys, e))).toEqual({ kind: 'epoch', at: '2026-01-01T00:00:00.000Z', reason: 'recreated' });
  });

  it('rejects what this deployment did not sign, or what is not a checkpoint, naming why', () => {
    const content = encodeSegment(segment());
    const signed = checkpointProperties(keys, content);
    expect(decode(content, { type: CHECKPOINT_TYPE })).toEqual({ rejected: 'unsigned' });
    expect(decode(content, checkpointProperties(other, content))).toEqual({ rejected: 'unknown-key' });
    const tampered = Buffer.from(content.toString().replace('"start":40', '"start":39'));
    expect(decode(tampered, signed)).toEqual({ rejected: 'bad-signature' });
    expect(decode(content, { ...signed, type: 'job.batch' })).toEqual({ rejected: 'malformed' });
    for (const body of ['not json', '{"v":1,"kind":"segment"}', JSON.stringify({ ...JSON.parse(content.toString()), bits: 'AAAA' }), JSON.stringify({ ...JSON.parse(content.toString()), end: 1 })]) {
      const b = Buffer.from(body);
      expect(decode(b, { type: CHECKPOINT_TYPE, headers: { [HEADERS.eventSignature]: keys.sign(CHECKPOINT_TYPE, b) } }), body).toEqual({ rejected: 'malformed' });
    }
  });
});

describe('snapshots', () => {
  it('round-trip every segment in binary parts of up to 1,000, and reject a truncated or tampered part', async () => {
    const { encodeSnapshot, SNAPSHOT_PART_SEGMENTS } = await import('./checkpoint-codec.ts');
    const b = createSegmentBuilder(0, { maxBytes: 1e9, maxMessages: 1 });
    const segments = Array.from({ length: 2_345 }, (_, i) => b.add({ offset: i, bytes: 7, ids: [`job-${i}`, `job-${i + 1}`], ts: i, anchor: `a${i}` })!);
    const parts = encodeSnapshot('snap-1', segments);
    expect(parts).toHaveLength(Math.ceil(2_345 / SNAPSHOT_PART_SEGMENTS));
    const back = parts.map((p) => decode(p, checkpointProperties(keys, p)));
    const got = back.flatMap((r) => ('kind' in r && r.kind === 'snapshot' ? r.segments : []));
    expect(back.map((r) => ('kind' in r && r.kind === 'snapshot' ? `${r.id}:${r.part}/${r.parts}` : JSON.stringify(r)))).toEqual(['snap-1:0/3', 'snap-1:1/3', 'snap-1:2/3']);
    expect(got.map((s) => ({ ...s, filter: Buffer.from(s.filter.bits).toString('base64') }))).toEqual(segments.map((s) => ({ ...s, filter: Buffer.from(s.filter.bits).toString('base64') })));
    expect(got[1_234]!.filter.has(hashId('job-1235'))).toBe(true);
    const cut = parts[0]!.subarray(0, parts[0]!.length - 64);
    expect(decode(cut, checkpointProperties(keys, cut))).toEqual({ rejected: 'malformed' });
    const forged = Buffer.from(parts[1]!);
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
    expect(decode(forged, checkpointProperties(keys, parts[1]!))).toEqual({ rejected: 'bad-signature' });
  });
});
