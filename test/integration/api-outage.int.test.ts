import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { TEST_AMQP_BASE } from './helpers/broker-env.ts';
import { signedEventProperties } from '../../src/jobs/job-event-publisher.ts';
import { API_KEYS, apiTestTopology, brokerEventKeys, chatBody, declareApiTestTopology, eventually, getJson, postJson, testLogger } from './helpers/api-fixture.ts';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * "The broker goes away mid-test" without stopping the shared broker: the API
 * connects through a TCP proxy that the test cuts (sockets destroyed, port
 * closed) and restores.
 */
describe('publish API when the broker goes away', () => {
  let vh: TestVhost;
  let proxy: TcpProxy;
  let api: RunningApi;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;
  const PUBLISH_TIMEOUT_MS = 1_000;

  beforeAll(async () => {
    vh = await createTestVhost('api-outage');
    await declareApiTestTopology(vh);
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createChannel();
    const target = new URL(TEST_AMQP_BASE);
    proxy = await createTcpProxy(Number(target.port || 5672), target.hostname);
    const viaProxy = `amqp://${target.username}:${target.password}@127.0.0.1:${proxy.port}`;
    api = await startApi({
      topology: apiTestTopology(viaProxy, vh.vhost, { publishTimeout: `${PUBLISH_TIMEOUT_MS}ms` }),
      port: 0,
      apiKeys: API_KEYS,
      logger: testLogger(),
      processMetrics: false,
    });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await api?.close();
    await proxy?.close();
    await admin?.close();
    await vh?.cleanup();
  });

  it('answers 503 within the publish timeout while disconnected, then recovers by itself; no refused job is queued, and the retried job has no copy beyond one per 503 that said it may have been stored', async () => {
    const before = await postJson(`${api.url}/v1/jobs/chat`, chatBody(500, { metadata: { phase: 'before' } }));
    expect(before.status).toBe(202);

    await proxy.cut();
    // Requests in the outage: each ends with 503 within the route's publish timeout (plus scheduling slack), none is 202.
    const during = await Promise.all(Array.from({ length: 20 }, () => postJson(`${api.url}/v1/jobs/chat`, chatBody(500, { metadata: { phase: 'during' } }))));
    for (const r of during) {
      expect(r.status).toBe(503);
      expect(['PUBLISH_TIMEOUT', 'PUBLISH_BACKPRESSURE']).toContain(r.body.error.code);
      expect(r.headers.get('retry-after')).toBe('2');
      expect(r.ms).toBeLessThan(PUBLISH_TIMEOUT_MS + 1_000);
    }
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: { details: { broker: boolean } } }).error.details.broker).toBe(false);

    await proxy.restore();
    // No restart, no operator: the connection manager reconnects and the publish channels come back.
    // A client retries a 503 with the same Idempotency-Key, as the README says. "Not connected, not published"
    // is definitive; only a 503 that says "may not be stored" (the publish was written, its confirm did not
    // come in time) can leave a copy behind, which the retry then publishes again under the same id.
    const afterAnswers: { status: number; code?: string; message?: string }[] = [];
    const after = await eventually(async () => {
      const r = await postJson(`${api.url}/v1/jobs/chat`, chatBody(500, { metadata: { phase: 'after' } }), { 'idempotency-key': 'outage-after-1' });
      afterAnswers.push({ status: r.status, code: r.body?.error?.code, message: r.body?.error?.message });
      return r.status === 202 ? r : undefined;
    }, 20_000, 200);
    const mayBeStored = afterAnswers.filter((a) => a.status !== 202 && /may not be stored/.test(a.message ?? '')).length;
    expect(after.body.status).toBe('queued');
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 10_000);

    // The queue holds the two accepted jobs: none of the 503s slipped in, and the retried job is there once,
    // plus at most one copy per "may not be stored" answer (none in a run where every retry was refused definitively).
    const phases: string[] = [];
    const afterIds = new Set<string>();
    for (;;) {
      const m = await ch.get('llm.standard', { noAck: true });
      if (m === false) break;
      const phase = (JSON.parse(m.content.toString()) as { metadata: { phase: string } }).metadata.phase;
      phases.push(phase);
      if (phase === 'after') afterIds.add(m.properties.messageId as string);
    }
    expect(phases[0]).toBe('before');
    expect(phases.filter((p) => p === 'before')).toHaveLength(1);
    expect(phases.filter((p) => p === 'during')).toHaveLength(0);
    const afterCopies = phases.filter((p) => p === 'after').length;
    expect(afterCopies, `answers to the retried request: ${JSON.stringify(afterAnswers)}`).toBeGreaterThanOrEqual(1);
    expect(afterCopies, `answers to the retried request: ${JSON.stringify(afterAnswers)}`).toBeLessThanOrEqual(1 + mayBeStored);
    expect([...afterIds]).toEqual([after.body.id]);

    // The status index resubscribed to the job-events stream by itself: a worker event written now reaches it.
    const events = await admin.createConfirmChannel();
    const event = Buffer.from(JSON.stringify({ jobId: before.body.id, status: 'running', attempt: 1, at: new Date().toISOString(), source: 'worker' }));
    events.publish('warren.events', '', event, { contentType: 'application/json', ...signedEventProperties(await brokerEventKeys(vh), 'job.running', event) });
    await events.waitForConfirms();
    await events.close();
    const status = await eventually(async () => {
      const r = await getJson(`${api.url}/v1/jobs/${before.body.id}`);
      return r.body.status === 'running' ? r : undefined;
    }, 10_000);
    expect(status.body).toMatchObject({ id: before.body.id, route: 'chat', status: 'running', attempts: [{ attempt: 1, status: 'running' }] });
  });

  it('the console shows a banner while the broker is away, not a blank page, and drops it once the broker is back', async () => {
    const session = { cookie: 'warren_console=int-key-0123456789' };
    const page = async (path: string) => {
      const res = await fetch(`${api.url}${path}`, { headers: session, redirect: 'manual' });
      return { status: res.status, text: await res.text() };
    };
    expect((await page('/console/topology')).text).not.toContain('The broker is unreachable');
    await proxy.cut();
    try {
      await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 503, 10_000);
      for (const path of ['/console', '/console/jobs', '/console/topology']) {
        const r = await page(path);
        expect(r.text, path).toContain('The broker is unreachable');
        expect(r.text, path).toContain('</main>');
      }
    } finally {
      await proxy.restore();
    }
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 20_000);
    expect((await page('/console/topology')).text).not.toContain('The broker is unreachable');
  });
});
