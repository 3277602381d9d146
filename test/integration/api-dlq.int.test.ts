import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { createBrokerConnection, type BrokerConnection } from '../../src/broker/broker-connection.ts';
import { captureIo } from '../../src/cli/cli-test-io.test-support.ts';
import { runCli } from '../../src/cli/program.ts';
import { apiStartOptions } from '../../src/cli/start-command.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { testLogger } from './helpers/api-fixture.ts';
import { waitForCount, warrenDeadLetterHeaders, writeDlqTopology } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const ADMIN = { authorization: 'Bearer admin-key-0123456789' };
/** The environment `warren start api` and `warren dlq` see in these tests: a requeue cap of 1 instead of the default. */
const ENV = { WARREN_API_KEYS: 'admin-key-0123456789:*:admin;plain-key-0123456789:*', WARREN_DLQ_MAX_REQUEUES: '1' };
const PLAIN = { authorization: 'Bearer plain-key-0123456789' };

describe('the API serves the DLQ endpoints behind the admin scope (real broker, startApi)', () => {
  let vh: TestVhost;
  let api: RunningApi;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  /** The API's own broker connection (injected, so the test sees every drop). */
  let apiConnection: BrokerConnection;
  const drops: Array<string | undefined> = [];
  let topology: Topology;
  let file: string;
  let dir: string;
  let savedStateHome: string | undefined;

  beforeAll(async () => {
    vh = await createTestVhost('api-dlq');
    ({ topology, file, dir } = writeDlqTopology(vh));
    // `warren start api` keeps the requeue journal under XDG_STATE_HOME: this test's own folder, not the user's home.
    savedStateHome = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = join(dir, 'state');
    apiConnection = createBrokerConnection({ urls: topology.connection.urls, vhost: vh.vhost, name: `api-dlq-${process.pid}` });
    apiConnection.onDisconnect((err) => drops.push(err?.message));
    // Started as `warren start api` starts it, with the settings loaded from this environment.
    api = await startApi({
      ...apiStartOptions(loadConfig(ENV), { port: '0' }, { topology, file, consumersDir: dir }, testLogger()),
      applyTopology: true,
      connection: apiConnection,
    });
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    for (const id of ['dead-1', 'dead-2']) {
      ch.sendToQueue('dead', Buffer.from(JSON.stringify({ type: 'x' })), {
        messageId: id,
        persistent: true,
        headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: id === 'dead-1' ? 'rate-limited' : 'auth', route: 'a' }),
      });
    }
    await ch.waitForConfirms();
  });

  afterAll(async () => {
    await conn?.close();
    await api?.close();
    await apiConnection?.close();
    await vh?.cleanup();
    if (savedStateHome === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = savedStateHome;
  });

  it('refuses keys without the admin scope (403) and requests without a key (401)', async () => {
    expect((await fetch(`${api.url}/v1/dlq/dead`, { headers: PLAIN })).status).toBe(403);
    expect((await fetch(`${api.url}/v1/dlq/dead`)).status).toBe(401);
  });

  it('GET summarises without changing the queue; POST requeues the filtered ones to their origin', async () => {
    const list = await fetch(`${api.url}/v1/dlq/dead`, { headers: ADMIN });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { summary: { total: number; scanned: number }; messages: { messageId: string }[] };
    expect(body.summary.scanned).toBe(2);
    expect(body.messages.map((m) => m.messageId).sort()).toEqual(['dead-1', 'dead-2']);

    const requeue = await fetch(`${api.url}/v1/dlq/dead/requeue`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ errorClass: ['rate-limited'] }),
    });
    expect(requeue.status).toBe(200);
    const tally = (await requeue.json()) as { moved: number; failed: number };
    expect(tally).toMatchObject({ moved: 1, failed: 0 });

    const back = await ch.get('work.a', { noAck: true });
    expect(back && back.properties.messageId).toBe('dead-1');
    const left = await ch.get('dead', { noAck: true });
    expect(left && left.properties.messageId).toBe('dead-2');
  });

  it('WARREN_DLQ_MAX_REQUEUES reaches /v1/dlq and `warren dlq` alike: a dead letter requeued once is over a cap of 1 in both', async () => {
    ch.sendToQueue('dead', Buffer.from('{"type":"x"}'), {
      messageId: 'capped-1',
      persistent: true,
      headers: warrenDeadLetterHeaders({ exchange: 'jobs', routingKey: 'a.chat', queue: 'work.a', errorClass: 'auth', route: 'a', requeued: 1 }),
    });
    await ch.waitForConfirms();

    const list = await fetch(`${api.url}/v1/dlq/dead?id=capped-1`, { headers: ADMIN });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { summary: unknown }).summary).toMatchObject({ matched: 1, maxRequeues: 1, overCap: 1 });

    const io = captureIo();
    expect(await runCli(['-f', file, '--json', 'dlq', 'list', 'dead', '--id', 'capped-1'], { io, env: { ...process.env, ...ENV } })).toBe(0);
    expect((JSON.parse(io.out()) as { summary: unknown }).summary).toMatchObject({ matched: 1, maxRequeues: 1, overCap: 1 });

    const requeue = await fetch(`${api.url}/v1/dlq/dead/requeue`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ id: ['capped-1'] }) });
    expect(requeue.status).toBe(200);
    expect(await requeue.json()).toMatchObject({ moved: 0, skipped: { capped: 1 } });
    const still = await fetch(`${api.url}/v1/dlq/dead?id=capped-1`, { headers: ADMIN });
    expect(((await still.json()) as { summary: unknown }).summary).toMatchObject({ matched: 1 });
  });

  /** Another key's job; its HTTP status, or 0 when no answer came within 15 s. */
  const publishJob = (body: unknown) =>
    fetch(`${api.url}/v1/jobs/a`, { method: 'POST', headers: { ...PLAIN, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) }).then(
      (r) => r.status,
      () => 0,
    );

  it('a 409 for a busy DLQ leaves the API connection and every other key\'s publishes untouched', async () => {
    // Another consumer on the DLQ: the exclusive reader must refuse (409) and close only its own channel.
    const other = await conn.createChannel();
    await other.consume('dead', () => undefined, { noAck: false });
    try {
      const publishes = Array.from({ length: 60 }, (_, i) => publishJob({ type: 'busy', input: { i } }));
      const reads = Array.from({ length: 5 }, async () => {
        // Bounded: a request stuck behind a dead connection counts as a failure, not a test timeout.
        const r = await fetch(`${api.url}/v1/dlq/dead`, { headers: ADMIN, signal: AbortSignal.timeout(15_000) }).catch((err: unknown) => err as Error);
        return r instanceof Error ? { status: 0, body: { error: { code: r.message } } } : { status: r.status, body: (await r.json()) as { error?: { code?: string } } };
      });
      const [statuses, busy] = await Promise.all([Promise.all(publishes), Promise.all(reads)]);
      for (const b of busy) expect(b).toMatchObject({ status: 409, body: { error: { code: 'DLQ_QUEUE_BUSY' } } });
      expect(statuses.filter((s) => s !== 202)).toEqual([]);
      // A torn-down connection shows up a moment after the 409: give it the time, then check that it never dropped.
      await new Promise((r) => setTimeout(r, 500));
      const after = await Promise.all(Array.from({ length: 20 }, () => publishJob({ type: 'after' })));
      expect(after.filter((s) => s !== 202)).toEqual([]);
      expect(drops).toEqual([]);
      expect(apiConnection.isConnected()).toBe(true);
      await waitForCount(ch, 'work.a', 80);
    } finally {
      await other.close();
    }
  });
});
