import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { decodeJobEvents, JOB_EVENT_BATCH_TYPE } from '../jobs/job-event-codec.ts';
import { HEADERS } from '../jobs/headers.ts';
import { createJobEventKeyring } from '../jobs/job-event-signature.ts';
import { createBatchedJobEventPublisher } from './event-batcher.ts';

const keyring = createJobEventKeyring('unit-test-event-key-0123456789', '/');

function fakePublisher(fail = false) {
  const sent: PublishRequest[] = [];
  return { sent, publish: async (r: PublishRequest) => (fail ? Promise.reject(new Error('nack')) : void sent.push(r)) };
}

describe('batched job event publisher', () => {
  it('sends a lone event as the plain object createJobEventPublisher writes', async () => {
    const p = fakePublisher();
    const events = createBatchedJobEventPublisher(p, { exchange: 'ev' }, 'worker', keyring);
    await events.emit({ jobId: 'j1', status: 'succeeded', attempt: 1, at: '2025-01-01T00:00:00.000Z' });
    expect(p.sent).toHaveLength(1);
    expect(p.sent[0]?.properties).toMatchObject({ type: 'job.succeeded', correlationId: 'j1' });
    expect(JSON.parse(p.sent[0]!.content.toString())).toEqual({ source: 'worker', jobId: 'j1', status: 'succeeded', attempt: 1, at: '2025-01-01T00:00:00.000Z' });
  });

  it('coalesces events of one event-loop turn into one array message, in order, and resolves each on its confirm', async () => {
    const p = fakePublisher();
    const events = createBatchedJobEventPublisher(p, { exchange: 'ev' }, 'worker', keyring);
    await Promise.all([events.emit({ jobId: 'a', status: 'running', attempt: 1 }), events.emit({ jobId: 'a', status: 'succeeded', attempt: 1 }), events.emit({ jobId: 'b', status: 'running', attempt: 1 })]);
    expect(p.sent).toHaveLength(1);
    expect(p.sent[0]?.properties?.type).toBe(JOB_EVENT_BATCH_TYPE);
    const decoded = decodeJobEvents(p.sent[0]!.content);
    expect(decoded.invalid).toBe(0);
    expect(decoded.events.map((e) => [e.jobId, e.status])).toEqual([
      ['a', 'running'],
      ['a', 'succeeded'],
      ['b', 'running'],
    ]);
  });

  it('signs each message once, over its type and body, with appId warren', async () => {
    const p = fakePublisher();
    const events = createBatchedJobEventPublisher(p, { exchange: 'ev' }, 'worker', keyring);
    await Promise.all([events.emit({ jobId: 'a', status: 'running', attempt: 1 }), events.emit({ jobId: 'b', status: 'running', attempt: 1 })]);
    await events.emit({ jobId: 'c', status: 'succeeded', attempt: 1 });
    expect(p.sent).toHaveLength(2);
    for (const m of p.sent) {
      expect(m.properties?.appId).toBe('warren');
      expect(keyring.verify(m.properties?.type, m.content, m.properties?.headers?.[HEADERS.eventSignature])).toBe('valid');
    }
    // The signature covers the type: the same body under another type does not verify.
    expect(keyring.verify('job.batch', p.sent[1]!.content, p.sent[1]!.properties?.headers?.[HEADERS.eventSignature])).toBe('bad-signature');
  });

  it('splits at maxBatch and rejects every emit of a batch the broker refused', async () => {
    const p = fakePublisher();
    const events = createBatchedJobEventPublisher(p, { exchange: 'ev' }, 'worker', keyring, { maxBatch: 2 });
    await Promise.all([1, 2, 3].map((i) => events.emit({ jobId: `j${i}`, status: 'running', attempt: 1 })));
    expect(p.sent.map((r) => decodeJobEvents(r.content).events.length)).toEqual([2, 1]);
    const failing = createBatchedJobEventPublisher(fakePublisher(true), { exchange: 'ev' }, 'worker', keyring);
    const results = await Promise.allSettled([failing.emit({ jobId: 'x', status: 'running', attempt: 1 }), failing.emit({ jobId: 'y', status: 'running', attempt: 1 })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('batched job event publisher, events given as JSON', () => {
  it('adds source and at to ready-made fields, alone or in a batch with emitted objects', async () => {
    const p = fakePublisher();
    const events = createBatchedJobEventPublisher(p, { exchange: 'ev' }, 'worker', keyring);
    await events.emitFields('j1', 'succeeded', '"status":"succeeded","attempt":1,"result":{"a":1},"jobId":"j1","queue":"q"');
    expect(p.sent[0]?.properties).toMatchObject({ type: 'job.succeeded', correlationId: 'j1' });
    const lone = JSON.parse(p.sent[0]!.content.toString()) as Record<string, unknown>;
    expect(lone).toEqual({ source: 'worker', at: expect.any(String), status: 'succeeded', attempt: 1, result: { a: 1 }, jobId: 'j1', queue: 'q' });
    expect(new Date(lone.at as string).toISOString()).toBe(lone.at);
    await Promise.all([events.emit({ jobId: 'a', status: 'running', attempt: 1 }), events.emitFields('a', 'succeeded', '"status":"succeeded","jobId":"a"')]);
    const decoded = decodeJobEvents(p.sent[1]!.content);
    expect(decoded.invalid).toBe(0);
    expect(decoded.events.map((e) => [e.jobId, e.status, e.source])).toEqual([
      ['a', 'running', 'worker'],
      ['a', 'succeeded', 'worker'],
    ]);
  });
});
