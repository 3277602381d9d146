import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PublishRequest } from '../../broker/confirm-publisher.ts';
import { PublishTimeoutError } from '../../errors/index.ts';
import { createSilentLogger } from '../../observability/logger.ts';
import { HEADERS } from '../../jobs/headers.ts';
import { createJobEventKeyring } from '../../jobs/job-event-signature.ts';
import { createJobEventBatcher } from './job-event-batcher.ts';
import { JOB_EVENT_BATCH_TYPE, decodeJobEvents } from '../../jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE, decodePayloadRecords } from '../../jobs/job-event-payload.ts';

const keyring = createJobEventKeyring('unit-test-event-key-0123456789', '/');
const event = (n: number) => ({ jobId: `j${n}`, status: 'queued' as const, attempt: 1, at: '2025-01-01T00:00:00.000Z', source: 'api' });

describe('job event batcher', () => {
  it('publishes a lone event exactly like createJobEventPublisher (one object, type job.<status>)', async () => {
    const sent: PublishRequest[] = [];
    const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger() });
    b.emit(event(1));
    await b.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.exchange).toBe('ev');
    expect(sent[0]!.properties).toMatchObject({ type: 'job.queued', contentType: 'application/json', correlationId: 'j1' });
    expect(JSON.parse(sent[0]!.content.toString())).toEqual(event(1));
  });

  it('signs every message and keeps the replica header beside the signature', async () => {
    const sent: PublishRequest[] = [];
    const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger(), replicaId: 'r1', maxBatch: 2 });
    for (let i = 0; i < 3; i++) b.emit(event(i));
    await b.flush();
    expect(sent).toHaveLength(2);
    for (const m of sent) {
      expect(m.properties?.appId).toBe('warren');
      expect(m.properties?.headers?.[HEADERS.replica]).toBe('r1');
      expect(keyring.verify(m.properties?.type, m.content, m.properties?.headers?.[HEADERS.eventSignature])).toBe('valid');
    }
  });

  it('coalesces events of the same few milliseconds into one job.batch array, max per message', async () => {
    const sent: PublishRequest[] = [];
    const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger(), maxBatch: 3 });
    for (let i = 0; i < 7; i++) b.emit(event(i));
    await b.flush();
    expect(sent.map((s) => s.properties?.type)).toEqual([JOB_EVENT_BATCH_TYPE, JOB_EVENT_BATCH_TYPE, 'job.queued']);
    const all = sent.flatMap((s) => decodeJobEvents(s.content).events.map((e) => e.jobId));
    expect(all).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6']);
  });

  describe('pacing', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** A batcher on fake timers that records when each message was sent and which jobs it held. */
    function pacedBatcher(extra: { maxBatch?: number } = {}) {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const sent: { at: number; ids: string[] }[] = [];
      const b = createJobEventBatcher({
        publisher: { publish: async (r) => void sent.push({ at: performance.now(), ids: decodeJobEvents(r.content).events.map((e) => e.jobId) }) },
        exchange: 'ev',
        signer: keyring,
        logger: createSilentLogger(),
        maxDelayMs: 20,
        minIntervalMs: 100,
        ...extra,
      });
      return { b, sent, t0: performance.now() };
    }

    it('waits maxDelayMs on a quiet stream, then keeps minIntervalMs between messages; a full batch goes at once', async () => {
      const { b, sent, t0 } = pacedBatcher({ maxBatch: 5 });
      b.emit(event(1));
      await vi.advanceTimersByTimeAsync(19);
      expect(sent).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent).toEqual([{ at: t0 + 20, ids: ['j1'] }]);
      // 10 ms later: not before 100 ms after the last message.
      await vi.advanceTimersByTimeAsync(10);
      b.emit(event(2));
      b.emit(event(3));
      await vi.advanceTimersByTimeAsync(89);
      expect(sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent[1]).toEqual({ at: t0 + 120, ids: ['j2', 'j3'] });
      // A full batch does not wait for the interval.
      for (let i = 10; i < 15; i++) b.emit(event(i));
      await vi.advanceTimersByTimeAsync(0);
      expect(sent[2]).toEqual({ at: t0 + 120, ids: ['j10', 'j11', 'j12', 'j13', 'j14'] });
      // Quiet again for longer than the interval: back to maxDelayMs.
      await vi.advanceTimersByTimeAsync(500);
      b.emit(event(20));
      await vi.advanceTimersByTimeAsync(20);
      expect(sent[3]).toEqual({ at: t0 + 640, ids: ['j20'] });
      await b.flush();
      expect(sent).toHaveLength(4);
    });

    it('a prompt event (Idempotency-Key) is published within maxDelayMs, taking the held ones with it', async () => {
      const { b, sent, t0 } = pacedBatcher();
      b.emit(event(1));
      await vi.advanceTimersByTimeAsync(20);
      b.emit(event(2));
      await vi.advanceTimersByTimeAsync(10);
      b.emit(event(3), true);
      await vi.advanceTimersByTimeAsync(19);
      expect(sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent[1]).toEqual({ at: t0 + 50, ids: ['j2', 'j3'] });
      await b.flush();
      expect(sent).toHaveLength(2);
    });
  });

  it('retries a failed publish, then gives up without throwing', async () => {
    let calls = 0;
    const b = createJobEventBatcher({
      publisher: {
        publish: async () => {
          calls++;
          throw new PublishTimeoutError('t');
        },
      },
      exchange: 'ev',
        signer: keyring,
      logger: createSilentLogger(),
      attempts: 2,
    });
    b.emit(event(1));
    await b.flush();
    expect(calls).toBe(2);
  });

  it('drops events beyond the bound instead of growing without limit', async () => {
    const sent: PublishRequest[] = [];
    const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger(), maxPending: 2, maxBatch: 100, maxDelayMs: 1000 });
    for (let i = 0; i < 5; i++) b.emit(event(i));
    await b.flush();
    expect(sent.flatMap((s) => decodeJobEvents(s.content).events)).toHaveLength(2);
  });

  describe('payloads', () => {
    const withPayload = (n: number, chars: number) => ({ ...event(n), payload: 'x'.repeat(chars), payloadBytes: chars });
    const eventsOf = (sent: PublishRequest[]) => sent.filter((m) => m.properties?.type !== JOB_PAYLOADS_TYPE).flatMap((m) => decodeJobEvents(m.content).events);
    const payloadsOf = (sent: PublishRequest[]) => sent.filter((m) => m.properties?.type === JOB_PAYLOADS_TYPE).map((m) => decodePayloadRecords(m.content));

    it('writes the payloads of a message of events in a signed job.payloads message beside it, and none on the events', async () => {
      const sent: PublishRequest[] = [];
      const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger(), replicaId: 'r1' });
      b.emit(withPayload(1, 10));
      b.emit(event(2));
      b.emit(withPayload(3, 20));
      await b.flush();
      expect(sent.map((m) => m.properties?.type)).toEqual([JOB_EVENT_BATCH_TYPE, JOB_PAYLOADS_TYPE]);
      expect(eventsOf(sent)).toEqual([event(1), event(2), event(3)]);
      expect(payloadsOf(sent)).toEqual([[{ jobId: 'j1', payload: 'x'.repeat(10), payloadBytes: 10 }, { jobId: 'j3', payload: 'x'.repeat(20), payloadBytes: 20 }]]);
      for (const m of sent) {
        expect(m.properties?.headers?.[HEADERS.replica]).toBe('r1');
        expect(keyring.verify(m.properties?.type, m.content, m.properties?.headers?.[HEADERS.eventSignature])).toBe('valid');
      }
      // A lone event without a payload is still one plain message.
      sent.length = 0;
      b.emit(event(4));
      await b.flush();
      expect(sent.map((m) => m.properties?.type)).toEqual(['job.queued']);
    });

    it('cuts messages at maxBatchPayload (a full one goes at once) and keeps every payload whole', async () => {
      const sent: PublishRequest[] = [];
      const b = createJobEventBatcher({ publisher: { publish: async (r) => void sent.push(r) }, exchange: 'ev', signer: keyring, logger: createSilentLogger(), maxBatchPayload: 100, maxDelayMs: 60_000, minIntervalMs: 60_000 });
      for (let i = 0; i < 5; i++) b.emit(withPayload(i, 40));
      // 40 + 40 + 40 reached 100: the first three went without waiting for the (one minute) delay.
      await new Promise((r) => setImmediate(r));
      expect(payloadsOf(sent).map((records) => records.map((r) => r.jobId))).toEqual([['j0', 'j1'], ['j2']]);
      await b.flush();
      expect(eventsOf(sent).map((e) => e.jobId)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
      expect(payloadsOf(sent).flat().every((r) => r.payload === 'x'.repeat(40) && r.payloadBytes === 40)).toBe(true);
      // One payload alone larger than the bound still goes, whole, in its own message.
      b.emit(withPayload(9, 500));
      await b.flush();
      expect(payloadsOf(sent).at(-1)).toEqual([{ jobId: 'j9', payload: 'x'.repeat(500), payloadBytes: 500 }]);
    });

    it('beyond maxPendingPayload held (buffered or being published), events go without their payload; the room comes back once published', async () => {
      const sent: PublishRequest[] = [];
      let release: () => void = () => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const b = createJobEventBatcher({
        publisher: {
          publish: async (r) => {
            await gate;
            sent.push(r);
          },
        },
        exchange: 'ev',
        signer: keyring,
        logger: createSilentLogger(),
        maxPendingPayload: 100,
        maxDelayMs: 1,
      });
      b.emit(withPayload(1, 60));
      // Published but not confirmed yet: its payload still counts.
      await new Promise((r) => setTimeout(r, 10));
      b.emit(withPayload(2, 60));
      b.emit(withPayload(3, 40));
      release();
      await b.flush();
      b.emit(withPayload(4, 100));
      await b.flush();
      expect(eventsOf(sent).map((e) => e.jobId).sort()).toEqual(['j1', 'j2', 'j3', 'j4']);
      expect(payloadsOf(sent).flat().map((r) => [r.jobId, r.payload.length])).toEqual([
        ['j1', 60],
        ['j3', 40],
        ['j4', 100],
      ]);
    });
  });
});
