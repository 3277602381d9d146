import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/api/auth/api-keys.ts';
import { idempotentJobId } from '../../src/api/jobs/idempotency.ts';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { newJobId } from '../../src/jobs/job-id.ts';
import { signedEventProperties } from '../../src/jobs/job-event-publisher.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { brokerEventKeys, chatBody, eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { prefillEvents, publishRaw } from './helpers/job-history-prefill.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * The Idempotency-Key window is the stream's retention, not the size of the
 * status cache: a key used 2,000,000 jobs ago still returns its first job, on
 * a replica that indexes the stream itself and on one that boots from the
 * checkpoints. The 2,000,000 jobs are written directly (signed `queued`
 * events, 5,000 per message) so the file runs in well under a minute.
 */
const API_KEY = 'idem-key-0123456789';
const KEYS = `${API_KEY}:chat::tenant-a`;
const EARLIER = 2_000_000;

function topologyOf(vh: TestVhost): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [vh.amqpUrl], management: TEST_MANAGEMENT_URL, vhost: vh.vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    queues: { 'llm.standard': { type: 'quorum' } },
    bindings: [{ source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.standard.#' }],
    // The publish timeout is also how long an idempotent submit waits for a replica that is still indexing.
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' }, publishTimeout: '40s' } },
    jobEvents: { indexSize: 1_000 },
  });
}

describe('Idempotency-Key window = stream retention (real broker)', () => {
  let vh: TestVhost;
  let topology: Topology;
  let conn: ChannelModel;
  let ch: Channel;
  const apis: RunningApi[] = [];
  // The id the API derives for this key: the same on every replica and after restarts.
  const firstId = idempotentJobId(hashApiKey(API_KEY).subarray(0, 8).toString('hex'), 'route:chat', 'order-4711');

  async function start(): Promise<RunningApi> {
    const api = await startApi({ topology, port: 0, apiKeys: KEYS, logger: testLogger(), processMetrics: false });
    apis.push(api);
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 30_000);
    return api;
  }

  async function submit(api: RunningApi, key: string): Promise<{ status: number; replayed: string | null; id: string }> {
    const res = await fetch(`${api.url}/v1/jobs/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(chatBody(100)),
    });
    const body = (await res.json()) as { id: string };
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), id: body.id };
  }

  beforeAll(async () => {
    vh = await createTestVhost('idem-window');
    topology = topologyOf(vh);
    await ensureTopology(topology, vh.management, testLogger());
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createChannel();
    const keys = await brokerEventKeys(vh);
    // The first use of the key, as the API recorded it; then 2,000,000 other jobs.
    const at = new Date().toISOString();
    const first = Buffer.from(JSON.stringify([{ jobId: firstId, status: 'queued', attempt: 1, at, source: 'api', route: 'chat', owner: 'tenant-a' }]));
    await publishRaw(conn, 'warren.events', first, { timestamp: Date.now(), ...signedEventProperties(keys, 'job.batch', first) });
    await prefillEvents(conn, {
      exchange: 'warren.events',
      signer: keys,
      total: EARLIER,
      perMessage: 5_000,
      event: () => ({ jobId: newJobId(), status: 'queued', attempt: 1, at, source: 'api', route: 'chat', owner: 'tenant-b' }),
    });
  }, 120_000);

  afterAll(async () => {
    for (const api of apis) await api.close().catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await vh?.cleanup();
  });

  it('the key used 2,000,000 jobs earlier replays its first job (the replica indexes the stream first), and publishes nothing', async () => {
    const api = await start();
    const again = await submit(api, 'order-4711');
    expect(again).toEqual({ status: 202, replayed: 'true', id: firstId });
    expect(api.history.state().indexed).toBe(true);
    expect((await ch.checkQueue('llm.standard')).messageCount).toBe(0);
    await api.close();
  });

  it('after a restart, booting from the checkpoints, the same key still replays; a new key publishes', async () => {
    const api = await start();
    expect(api.history.state()).toMatchObject({ indexed: true, backfilled: 0 });
    expect(await submit(api, 'order-4711')).toEqual({ status: 202, replayed: 'true', id: firstId });
    const fresh = await submit(api, 'order-4712');
    expect(fresh.status).toBe(202);
    expect(fresh.replayed).toBeNull();
    expect(fresh.id).not.toBe(firstId);
    await waitForOne(ch);
    // And the new key is remembered too.
    expect(await submit(api, 'order-4712')).toEqual({ status: 202, replayed: 'true', id: fresh.id });
    expect((await ch.checkQueue('llm.standard')).messageCount).toBe(1);
  });
});

async function waitForOne(ch: Channel): Promise<void> {
  await eventually(async () => (await ch.checkQueue('llm.standard')).messageCount === 1, 10_000);
}
