import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { seg } from '../../src/broker/management-client.ts';
import { defaultConfig } from '../../src/config/load-config.ts';
import { API_KEYS, apiTestTopology, chatBody, declareApiTestTopology, eventually, postJson, testLogger } from './helpers/api-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/** A connection of the vhost as the management API lists it, with its channels' publish counts summed. */
interface ConnectionFigures {
  name: string;
  connectionName: string;
  published: number;
}

describe('the API batch thread against the real broker', () => {
  let vh: TestVhost;
  let api: RunningApi | undefined;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  beforeAll(async () => {
    vh = await createTestVhost('api-batch-thread');
    await declareApiTestTopology(vh);
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createChannel();
  });

  afterAll(async () => {
    await api?.close();
    await admin?.close();
    await vh?.cleanup();
  });

  async function start(config: Partial<ReturnType<typeof defaultConfig>> = {}, batchThread?: boolean): Promise<RunningApi> {
    await api?.close();
    api = await startApi({
      topology: apiTestTopology(vh.amqpUrl, vh.vhost),
      port: 0,
      apiKeys: API_KEYS,
      logger: testLogger(),
      processMetrics: false,
      config: { ...defaultConfig(), ...config },
      ...(batchThread === undefined ? {} : { batchThread }),
    });
    return api;
  }

  /** The vhost's connections and how many messages their channels published (management figures, refreshed every few seconds). */
  async function connections(): Promise<ConnectionFigures[]> {
    const list = await vh.management.get<{ name: string; client_properties?: { connection_name?: string } }[]>(`/vhosts/${seg(vh.vhost)}/connections`);
    return Promise.all(
      list.map(async (c) => {
        const channels = await vh.management.get<{ message_stats?: { publish?: number } }[]>(`/connections/${seg(c.name)}/channels`);
        return { name: c.name, connectionName: c.client_properties?.connection_name ?? '', published: channels.reduce((n, x) => n + (x.message_stats?.publish ?? 0), 0) };
      }),
    );
  }

  it("a batch's jobs are published by the batch thread on a connection of its own, started with the first batch (WARREN_API_BATCH_THREAD_START=first-batch), and stored", async () => {
    const running = await start({ apiBatchThreadStart: 'first-batch' });
    await ch.purgeQueue('llm.standard');
    // No batch yet: no thread, no connection for it (the API's own are there).
    const before = await eventually(async () => {
      const all = await connections();
      return all.some((c) => c.connectionName === `warren-api-${process.pid}`) ? all : undefined;
    }, 20_000, 250);
    expect(before.some((c) => c.connectionName.startsWith('warren-api-batch-'))).toBe(false);
    const res = await postJson(`${running.url}/v1/jobs/chat/batch`, Array.from({ length: 300 }, () => chatBody(1000)));
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(300);
    expect((await ch.checkQueue('llm.standard')).messageCount).toBe(300);
    // The broker says which connection the 300 messages came in on (its figures lag by a few seconds).
    const figures = await eventually(async () => {
      const all = await connections();
      const thread = all.find((c) => c.connectionName === `warren-api-batch-${process.pid}`);
      return thread !== undefined && thread.published >= 300 ? all : undefined;
    }, 20_000, 500);
    const others = figures.filter((c) => c.connectionName.startsWith('warren-api-') && c.connectionName !== `warren-api-batch-${process.pid}`);
    expect(others.length).toBeGreaterThan(0);
    // The API's own connections carried the `queued` events (a message per many events), not the jobs.
    for (const c of others) expect(c.published).toBeLessThan(300);
  }, 60_000);

  it('by default (WARREN_API_BATCH_THREAD_START=boot) the thread starts and connects with the API, before any batch, and that one thread serves the batches', async () => {
    const running = await start();
    const thread = await eventually(async () => {
      const all = await connections();
      return all.find((c) => c.connectionName === `warren-api-batch-${process.pid}`);
    }, 20_000, 250);
    expect(thread.published).toBe(0);
    const res = await postJson(`${running.url}/v1/jobs/chat/batch`, Array.from({ length: 5 }, () => chatBody()));
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(5);
    // The thread started at boot published them (the broker's figures lag a few seconds), and no other thread started.
    const threads = await eventually(async () => {
      const all = (await connections()).filter((c) => c.connectionName.startsWith('warren-api-batch-'));
      return all.some((c) => c.published >= 5) ? all : undefined;
    }, 20_000, 500);
    expect(threads.map((c) => c.name)).toEqual([thread.name]);
  }, 60_000);

  it('invalid jobs, the mode and the body are judged in the thread as in the request thread', async () => {
    const running = await start();
    await ch.purgeQueue('llm.standard');
    const bad = await postJson(`${running.url}/v1/jobs/chat/batch`, { mode: 'all-or-nothing', jobs: [chatBody(), { model: '' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.details.some((d: { index: number; path: string }) => d.index === 1 && d.path.startsWith('jobs.1'))).toBe(true);
    const mixed = await postJson(`${running.url}/v1/jobs/chat/batch?mode=best-effort`, [chatBody(), { model: 'x' }, chatBody(200, { priority: 'batch' })]);
    expect(mixed.status).toBe(207);
    expect(mixed.body.jobs.map((j: { status: string; error?: { code: string } }) => j.error?.code ?? j.status)).toEqual(['queued', 'VALIDATION_FAILED', 'UNROUTABLE']);
    const malformed = await fetch(`${running.url}/v1/jobs/chat/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer int-key-0123456789' }, body: '[{"model": "x", ' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_JSON');
    expect((await ch.checkQueue('llm.standard')).messageCount).toBe(1);
  }, 60_000);

  it('an Idempotency-Key batch sent twice is published once (the guard stays in the request thread)', async () => {
    const running = await start();
    await ch.purgeQueue('llm.standard');
    const jobs = Array.from({ length: 50 }, () => chatBody(500));
    const first = await postJson(`${running.url}/v1/jobs/chat/batch`, jobs, { 'idempotency-key': 'batch-thread-once' });
    expect(first.status).toBe(202);
    expect(first.body.jobs.some((j: { replayed?: boolean }) => j.replayed === true)).toBe(false);
    const again = await postJson(`${running.url}/v1/jobs/chat/batch`, jobs, { 'idempotency-key': 'batch-thread-once' });
    expect(again.status).toBe(202);
    expect(again.body.jobs.every((j: { replayed?: boolean }) => j.replayed === true)).toBe(true);
    expect(again.body.jobs.map((j: { id: string }) => j.id)).toEqual(first.body.jobs.map((j: { id: string }) => j.id));
    expect((await ch.checkQueue('llm.standard')).messageCount).toBe(50);
  }, 60_000);

  it('WARREN_API_BATCH_PACE bounds how fast a batch goes through', async () => {
    const running = await start({ apiBatchPace: 1024 * 1024 });
    await ch.purgeQueue('llm.standard');
    const jobs = Array.from({ length: 200 }, () => chatBody(10_000)); // ~2 MB
    const bytes = Buffer.byteLength(JSON.stringify(jobs));
    const started = performance.now();
    const res = await postJson(`${running.url}/v1/jobs/chat/batch`, jobs);
    const took = performance.now() - started;
    expect(res.status).toBe(202);
    // Read at 1 MiB/s after a 256 KiB burst, and published at the same pace: it can't take less (a floor, not a timing).
    expect(took).toBeGreaterThan(((bytes - 2 * 256 * 1024) / (1024 * 1024)) * 1000);
  }, 60_000);

  it('with the thread off (WARREN_API_BATCH_THREAD=false) batches are published by the API itself', async () => {
    const running = await start({}, false);
    const res = await postJson(`${running.url}/v1/jobs/chat/batch`, Array.from({ length: 10 }, () => chatBody()));
    expect(res.status).toBe(202);
    const all = await connections();
    expect(all.some((c) => c.connectionName.startsWith('warren-api-batch-'))).toBe(false);
  }, 60_000);
});
