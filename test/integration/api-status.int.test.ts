import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/api/auth/api-keys.ts';
import { idempotentJobId } from '../../src/api/jobs/idempotency.ts';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { createBrokerConnection, type BrokerConnection } from '../../src/broker/broker-connection.ts';
import { createConfirmPublisher, type ConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import { createJobEventPublisher, type JobEventPublisher } from '../../src/jobs/job-event-publisher.ts';
import { createJobEventBatcher } from '../../src/api/status/job-event-batcher.ts';
import { createJobEventsTailer } from '../../src/api/status/job-events-tailer.ts';
import { createJobStatusIndex } from '../../src/api/status/job-status-index.ts';
import type { JobEventKeyring } from '../../src/jobs/job-event-signature.ts';
import { API_KEYS, AUTH, apiTestTopology, brokerEventKeys, chatBody, declareApiTestTopology, eventually, getJson, postJson, testLogger } from './helpers/api-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

interface SseMessage {
  event: string;
  data: any;
}

/** Reads an SSE response to its end. */
async function readSse(res: Response): Promise<SseMessage[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return { event, data: JSON.parse(data) };
    });
}

/**
 * Status and SSE follow jobs through success, retry and dead-letter. The
 * worker is played by the test: it emits the lifecycle events a worker emits,
 * with the real createJobEventPublisher, into the real job-events stream.
 */
describe('job status from the job-events stream', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let conn: BrokerConnection;
  let publisher: ConfirmPublisher;
  let worker: JobEventPublisher;
  let keys: JobEventKeyring;

  beforeAll(async () => {
    vh = await createTestVhost('api-status');
    await declareApiTestTopology(vh);
    api = await startApi({ topology: apiTestTopology(vh.amqpUrl, vh.vhost), port: 0, apiKeys: API_KEYS, logger: testLogger(), processMetrics: false });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200);
    conn = createBrokerConnection({ urls: [vh.amqpUrl] });
    await conn.waitForConnection(10_000);
    publisher = createConfirmPublisher({ connection: conn });
    keys = await brokerEventKeys(vh);
    worker = createJobEventPublisher(publisher, { exchange: 'warren.events' }, 'worker', keys);
  });

  afterAll(async () => {
    await api?.close();
    await publisher?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  it('follows success, retry and dead-letter over SSE, and every replica (even a new one) agrees', async () => {
    const ids: Record<'ok' | 'retried' | 'dead', string> = { ok: '', retried: '', dead: '' };
    for (const k of Object.keys(ids) as (keyof typeof ids)[]) {
      const r = await postJson(`${api.url}/v1/jobs/chat`, chatBody(300));
      expect(r.status).toBe(202);
      ids[k] = r.body.id;
    }
    const streams = await Promise.all(Object.values(ids).map((id) => fetch(`${api.url}/v1/jobs/${id}/events`, { headers: AUTH })));
    for (const s of streams) expect(s.headers.get('content-type')).toContain('text/event-stream');
    const reading = streams.map((s) => readSse(s));

    const usage = { promptTokens: 12, completionTokens: 5, totalTokens: 17 };
    await worker.emit({ jobId: ids.ok, status: 'running', attempt: 1, queue: 'llm.standard', route: 'chat' });
    await worker.emit({ jobId: ids.ok, status: 'succeeded', attempt: 1, result: { content: 'Hi!' }, usage });

    await worker.emit({ jobId: ids.retried, status: 'running', attempt: 1 });
    await worker.emit({ jobId: ids.retried, status: 'retrying', attempt: 1, error: { class: 'rate-limited', message: '429 Too Many Requests' }, retryInMs: 1000 });
    await worker.emit({ jobId: ids.retried, status: 'running', attempt: 2 });
    await worker.emit({ jobId: ids.retried, status: 'succeeded', attempt: 2, result: { content: 'second time' } });

    await worker.emit({ jobId: ids.dead, status: 'running', attempt: 1 });
    await worker.emit({ jobId: ids.dead, status: 'retrying', attempt: 1, error: { class: 'server-error', message: '502 Bad Gateway' }, retryInMs: 50 });
    await worker.emit({ jobId: ids.dead, status: 'running', attempt: 2 });
    await worker.emit({ jobId: ids.dead, status: 'dead-lettered', attempt: 2, error: { class: 'context-length', message: 'maximum context length exceeded' } });

    const [ok, retried, dead] = await Promise.all(reading);
    // Each stream starts with the status at subscription time and ends by itself after the final status.
    expect(ok!.map((m) => m.event)).toEqual(['queued', 'running', 'succeeded']);
    expect(retried!.map((m) => m.event)).toEqual(['queued', 'running', 'retrying', 'running', 'succeeded']);
    expect(dead!.map((m) => m.event)).toEqual(['queued', 'running', 'retrying', 'running', 'dead-lettered']);
    expect(ok!.at(-1)!.data).toMatchObject({ id: ids.ok, status: 'succeeded', result: { content: 'Hi!' }, usage, queue: 'llm.standard' });

    const views = {
      ok: (await getJson(`${api.url}/v1/jobs/${ids.ok}`)).body,
      retried: (await getJson(`${api.url}/v1/jobs/${ids.retried}`)).body,
      dead: (await getJson(`${api.url}/v1/jobs/${ids.dead}`)).body,
    };
    expect(views.retried).toMatchObject({
      status: 'succeeded',
      route: 'chat',
      result: { content: 'second time' },
      attempts: [
        { attempt: 1, status: 'retrying', error: { class: 'rate-limited', message: '429 Too Many Requests' }, retryInMs: 1000 },
        { attempt: 2, status: 'succeeded' },
      ],
    });
    expect(views.dead).toMatchObject({
      status: 'dead-lettered',
      attempts: [
        { attempt: 1, status: 'retrying', error: { class: 'server-error' } },
        { attempt: 2, status: 'dead-lettered', error: { class: 'context-length', message: 'maximum context length exceeded' } },
      ],
    });

    // A replica started now has no memory of these jobs: it rebuilds them from the stream (same as after a restart).
    const replica = await startApi({ topology: apiTestTopology(vh.amqpUrl, vh.vhost), port: 0, apiKeys: API_KEYS, logger: testLogger(), processMetrics: false });
    try {
      await eventually(async () => (await fetch(`${replica.url}/readyz`)).status === 200);
      for (const k of Object.keys(ids) as (keyof typeof ids)[]) {
        const r = await getJson(`${replica.url}/v1/jobs/${ids[k]}`);
        expect(r.status).toBe(200);
        expect(r.body).toEqual(views[k]);
      }
      // A job finished before the stream was opened: one message, then the stream ends.
      const late = await readSse(await fetch(`${replica.url}/v1/jobs/${ids.dead}/events`, { headers: AUTH }));
      expect(late.map((m) => m.event)).toEqual(['dead-lettered']);
    } finally {
      await replica.close();
    }
  });

  it('?wait returns the result when the job finishes in time', async () => {
    // With an Idempotency-Key the job id is known before the answer: uuid v5 of (caller, route, key).
    const key = `wait-${Date.now()}`;
    const jobId = idempotentJobId(hashApiKey('int-key-0123456789').subarray(0, 8).toString('hex'), 'route:chat', key);
    const pending = postJson(`${api.url}/v1/jobs/chat?wait=10s`, chatBody(300), { 'idempotency-key': key });
    await eventually(() => api.index.get(jobId) !== undefined);
    await worker.emit({ jobId, status: 'running', attempt: 1 });
    await worker.emit({ jobId, status: 'succeeded', attempt: 1, result: { content: 'waited' } });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: jobId, status: 'succeeded', result: { content: 'waited' }, attempts: [{ attempt: 1, status: 'succeeded' }] });
  });

  it('?wait gives up after the wait with 202 and the current status', async () => {
    const started = Date.now();
    const res = await postJson(`${api.url}/v1/jobs/chat?wait=300ms`, chatBody(300));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ route: 'chat', status: 'queued' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('GET of an unknown job is 404', async () => {
    const r = await getJson(`${api.url}/v1/jobs/6f1c0a52-0000-4000-8000-000000000000`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('JOB_NOT_FOUND');
  });

  it("a replica's tail skips the job events it wrote itself (already in its index) and applies everyone else's", async () => {
    const index = createJobStatusIndex({ capacity: 1000 });
    const tailer = createJobEventsTailer({ connection: conn, publisher, index, exchange: 'warren.events', stream: 'warren.events.log', keys, logger: testLogger(), replicaId: 'replica-me' });
    try {
      const mine = createJobEventBatcher({ publisher, exchange: 'warren.events', signer: keys, logger: testLogger(), replicaId: 'replica-me', maxDelayMs: 1 });
      const theirs = createJobEventBatcher({ publisher, exchange: 'warren.events', signer: keys, logger: testLogger(), replicaId: 'replica-other', maxDelayMs: 1 });
      const ids = { mine: crypto.randomUUID(), theirs: crypto.randomUUID() };
      // Owned by the key the test's requests use (the first of API_KEYS), so the API shows them to it.
      mine.emit({ jobId: ids.mine, status: 'queued', attempt: 1, at: new Date().toISOString(), route: 'chat', source: 'api', owner: 'env#1' });
      await mine.flush();
      theirs.emit({ jobId: ids.theirs, status: 'queued', attempt: 1, at: new Date().toISOString(), route: 'chat', source: 'api', owner: 'env#1' });
      await theirs.flush();
      // The stream is read in order: once the later message is applied, the earlier one was read too.
      await eventually(async () => index.get(ids.theirs)?.status === 'queued');
      expect(index.get(ids.mine)).toBeUndefined();
      // The API itself, a process with an id of its own, applied both.
      await eventually(async () => (await getJson(`${api.url}/v1/jobs/${ids.mine}`)).status === 200);
    } finally {
      await tailer.close();
    }
  });
});
