import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { API_KEYS, apiTestTopology, chatBody, declareApiTestTopology, eventually, getJson, postJson, testLogger } from './helpers/api-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

describe('publish API against the real broker', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  const depth = async (q: string) => (await ch.checkQueue(q)).messageCount;
  const drain = async (q: string) => ch.purgeQueue(q);

  beforeAll(async () => {
    vh = await createTestVhost('api-publish');
    await declareApiTestTopology(vh);
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createChannel();
    api = await startApi({ topology: apiTestTopology(vh.amqpUrl, vh.vhost), port: 0, apiKeys: API_KEYS, logger: testLogger(), processMetrics: false });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.close();
    await vh?.cleanup();
  });

  it('202 means the message is in the queue, with the contract properties', async () => {
    await drain('llm.standard');
    const body = chatBody(1000);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await postJson(`${api.url}/v1/jobs/chat`, body, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), route: 'chat', status: 'queued' });
    // No polling: the confirm came before the 202, so the message is there now.
    const msg = await ch.get('llm.standard', { noAck: true });
    expect(msg).not.toBe(false);
    if (msg === false) return;
    expect(JSON.parse(msg.content.toString())).toEqual(body);
    expect(msg.fields.routingKey).toBe('llm.standard.chat');
    expect(msg.properties).toMatchObject({ messageId: res.body.id, correlationId: res.body.id, contentType: 'application/json', deliveryMode: 2 });
    expect(msg.properties.timestamp).toBeGreaterThan(Date.now() / 1000 - 60);
    // The first publish carries the route and the trace; attempt (1) and origin (this delivery's exchange and
    // routing key) are written by a worker when it republishes the job.
    // (x-delivery-count is the quorum queue's own.)
    expect(Object.keys(msg.properties.headers ?? {}).filter((k) => k !== 'x-delivery-count').sort()).toEqual([HEADERS.traceparent, HEADERS.route].sort());
    expect(msg.properties.headers?.[HEADERS.route]).toBe('chat');
    expect(msg.fields.exchange).toBe('llm.jobs');
    expect(String(msg.properties.headers?.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it('a full reject-publish queue yields 503 with Retry-After, never 202, and nothing is stored', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await postJson(`${api.url}/v1/jobs/chat`, chatBody(300, { priority: 'realtime' }));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('PUBLISH_REJECTED');
      expect(res.headers.get('retry-after')).toBe('5');
    }
    expect(await depth('llm.realtime')).toBe(0);
  });

  it('an unroutable job yields 422 naming the route and routing key', async () => {
    const res = await postJson(`${api.url}/v1/jobs/chat`, chatBody(300, { priority: 'batch' }));
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({
      code: 'UNROUTABLE',
      message: "route 'chat' published to exchange 'llm.jobs' with routing key 'llm.batch.chat', but no queue is bound for that key; nothing was queued",
      details: { route: 'chat', exchange: 'llm.jobs', routingKey: 'llm.batch.chat' },
    });
  });

  it('POST /v1/publish/{exchange} routes on headers through a headers exchange', async () => {
    const ok = await postJson(`${api.url}/v1/publish/documents`, { headers: { format: 'pdf' }, payload: { url: 's3://bucket/a.pdf' } });
    expect(ok.status).toBe(202);
    const msg = await ch.get('documents.pdf', { noAck: true });
    expect(msg && JSON.parse(msg.content.toString())).toEqual({ url: 's3://bucket/a.pdf' });
    expect(msg && msg.properties.messageId).toBe(ok.body.id);
    const unroutable = await postJson(`${api.url}/v1/publish/documents`, { headers: { format: 'docx' }, payload: {} });
    expect(unroutable.status).toBe(422);
    expect(unroutable.body.error.details).toEqual({ exchange: 'documents', routingKey: '' });
  });

  it('idempotency: the same key publishes once, also on another replica started later', async () => {
    await drain('llm.standard');
    const h = { 'idempotency-key': `order-${Date.now()}` };
    const first = await postJson(`${api.url}/v1/jobs/chat`, chatBody(200), h);
    const [again, concurrent] = await Promise.all([postJson(`${api.url}/v1/jobs/chat`, chatBody(200), h), postJson(`${api.url}/v1/jobs/chat`, chatBody(200), h)]);
    expect(first.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(concurrent.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    // A second replica (same as a restart): it replays the job-events stream before deciding.
    const replica = await startApi({ topology: apiTestTopology(vh.amqpUrl, vh.vhost), port: 0, apiKeys: API_KEYS, logger: testLogger(), processMetrics: false });
    try {
      const other = await postJson(`${replica.url}/v1/jobs/chat`, chatBody(200), h);
      expect(other.status).toBe(202);
      expect(other.body.id).toBe(first.body.id);
      expect(other.headers.get('idempotent-replayed')).toBe('true');
    } finally {
      await replica.close();
    }
    expect(await depth('llm.standard')).toBe(1);
  });

  it('batch all-or-nothing: one invalid job publishes nothing; all valid publishes all', async () => {
    await drain('llm.standard');
    const bad = await postJson(`${api.url}/v1/jobs/chat/batch`, { mode: 'all-or-nothing', jobs: [chatBody(), { model: '' }, chatBody()] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(['jobs.1.model', 'jobs.1.messages']);
    expect(await depth('llm.standard')).toBe(0);
    const good = await postJson(`${api.url}/v1/jobs/chat/batch`, Array.from({ length: 50 }, () => chatBody()));
    expect(good.status).toBe(202);
    expect(good.body.accepted).toBe(50);
    expect(await depth('llm.standard')).toBe(50);
  });

  it('batch best-effort: valid jobs are stored, the others each say why', async () => {
    await drain('llm.standard');
    const res = await postJson(`${api.url}/v1/jobs/chat/batch?mode=best-effort`, [chatBody(), { model: 'x' }, chatBody(200, { priority: 'realtime' }), chatBody(200, { priority: 'batch' }), chatBody()]);
    expect(res.status).toBe(207);
    expect(res.body.jobs.map((j: { status: string; error?: { code: string } }) => j.error?.code ?? j.status)).toEqual(['queued', 'VALIDATION_FAILED', 'PUBLISH_REJECTED', 'UNROUTABLE', 'queued']);
    expect(await depth('llm.standard')).toBe(2);
    expect(await depth('llm.realtime')).toBe(0);
  });

  it('batch publishing is faster per job than single calls (figure logged)', async () => {
    await drain('llm.standard');
    const n = 300;
    const body = chatBody(1000);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) expect((await postJson(`${api.url}/v1/jobs/chat`, body)).status).toBe(202);
    const single = (performance.now() - t0) / n;
    const t1 = performance.now();
    for (let i = 0; i < n / 100; i++) expect((await postJson(`${api.url}/v1/jobs/chat/batch`, Array.from({ length: 100 }, () => body))).status).toBe(202);
    const batched = (performance.now() - t1) / n;
    console.log(`[api-publish] per job: single sequential calls ${single.toFixed(3)} ms, batches of 100 ${batched.toFixed(3)} ms (${(single / batched).toFixed(1)}x faster)`);
    expect(await depth('llm.standard')).toBe(2 * n);
  });

  it('readyz, routes and metrics reflect the real wiring', async () => {
    const ready = await (await fetch(`${api.url}/readyz`)).json();
    // This vhost was declared without the job-history checkpoint stream: ready all the same, restarts re-index the stream.
    expect(ready).toEqual({
      status: 'ready',
      checks: { broker: true, publisher: true, topology: true, statusIndex: true, jobEventsStream: true },
      history: { indexed: true, checkpoints: false },
    });
    const routes = await getJson(`${api.url}/v1/routes`);
    expect(routes.body.routes.map((r: { name: string }) => r.name)).toEqual(['chat', 'task']);
    const metrics = await (await fetch(`${api.url}/metrics`, { headers: { authorization: 'Bearer int-key-0123456789' } })).text();
    expect(metrics).toMatch(/warren_api_publishes_total\{route="chat",outcome="rejected"\} [1-9]/);
    expect(metrics).toMatch(/warren_api_publishes_total\{route="chat",outcome="unroutable"\} [1-9]/);
    expect(metrics).toMatch(/warren_api_confirm_latency_seconds_count\{route="chat"\} [1-9]/);
  });
});
