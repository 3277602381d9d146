import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { createBrokerConnection, type BrokerConnection } from '../../src/broker/broker-connection.ts';
import { seg } from '../../src/broker/management-client.ts';
import { createConfirmPublisher, type ConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import { topologySchema, type Topology } from '../../src/config/topology-schema.ts';
import { newJobId } from '../../src/jobs/job-id.ts';
import { createJobEventPublisher } from '../../src/jobs/job-event-publisher.ts';
import { createJobEventsTailer } from '../../src/api/status/job-events-tailer.ts';
import { createJobStatusIndex } from '../../src/api/status/job-status-index.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { brokerEventKeys, chatBody, eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { prefillEvents } from './helpers/job-history-prefill.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * The job-events stream deleted under a running API: /readyz says so at once,
 * `warren topology apply` (ensureTopology) recreates it, and the API tails the
 * new stream by itself: new jobs get their status again, without a restart.
 */
const KEY = 'loss-key-0123456789';

function topologyOf(vh: TestVhost): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [vh.amqpUrl], management: TEST_MANAGEMENT_URL, vhost: vh.vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    queues: { 'llm.standard': { type: 'quorum' } },
    bindings: [{ source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.standard.#' }],
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    // A small cache: jobs of the deleted stream must be looked up, not answered from memory.
    jobEvents: { indexSize: 100 },
  });
}

describe('job-events stream deleted under a running API (real broker)', () => {
  let vh: TestVhost;
  let topology: Topology;
  let api: RunningApi;
  let conn: BrokerConnection;
  let publisher: ConfirmPublisher;

  const submit = async () => {
    const res = await fetch(`${api.url}/v1/jobs/chat`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(chatBody(100)) });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const status = async (id: string) => {
    const res = await fetch(`${api.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
    return res.status === 200 ? ((await res.json()) as { status: string }).status : res.status;
  };
  const readyz = async () => {
    const res = await fetch(`${api.url}/readyz`);
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    vh = await createTestVhost('stream-loss');
    topology = topologyOf(vh);
    await ensureTopology(topology, vh.management, testLogger());
    api = await startApi({ topology, port: 0, apiKeys: `${KEY}:chat`, logger: testLogger(), processMetrics: false });
    await eventually(async () => (await readyz()).status === 200, 20_000);
    conn = createBrokerConnection({ urls: [vh.amqpUrl] });
    await conn.waitForConnection(10_000);
    publisher = createConfirmPublisher({ connection: conn });
  });

  afterAll(async () => {
    await api?.close();
    await publisher?.close();
    await conn?.close();
    await vh?.cleanup();
  });

  it('reports the missing stream on /readyz, and recovers by itself once topology apply recreated it', async () => {
    const worker = createJobEventPublisher(publisher, { exchange: 'warren.events' }, 'worker', await brokerEventKeys(vh));
    const before = await submit();
    await worker.emit({ jobId: before, status: 'succeeded', attempt: 1, result: { n: 1 } });
    await eventually(async () => (await status(before)) === 'succeeded');
    // More than a segment (1 MiB) of history (owned by this test's only key, env#1), so the replica holds closed segments of the stream about to go.
    const keys = await brokerEventKeys(vh);
    const amqp = await amqplib.connect(vh.amqpUrl);
    const pad = 'x'.repeat(300);
    const old = Array.from({ length: 6_000 }, () => newJobId());
    await prefillEvents(amqp, { exchange: 'warren.events', signer: keys, total: old.length, perMessage: 2_000, event: (i) => ({ jobId: old[i]!, status: 'queued', attempt: 1, at: new Date().toISOString(), owner: 'env#1', route: 'chat', source: pad }) });
    await amqp.close();
    await eventually(async () => api.history.state().segments >= 1, 10_000);
    expect(await status(old[0]!)).toBe('queued');

    await vh.management.delete(`/queues/${seg(vh.vhost)}/${seg('warren.events.log')}`);
    const down = await eventually(async () => {
      const r = await readyz();
      return r.status === 503 ? r : undefined;
    }, 10_000);
    expect(down.body.error.details).toMatchObject({ jobEventsStream: false });
    // A job the stream no longer holds, and the cache never held, can't be told: 503, not a wrong 404.
    expect(await status('01900000-0000-7000-8000-000000000000')).toBe(503);

    await ensureTopology(topology, vh.management, testLogger());
    const up = await eventually(async () => {
      const r = await readyz();
      return r.status === 200 ? r : undefined;
    }, 20_000);
    expect(up.body.checks).toMatchObject({ jobEventsStream: true, statusIndex: true });

    // The new stream is tailed from its start: a new job's status flows again.
    const after = await submit();
    await worker.emit({ jobId: after, status: 'running', attempt: 1 });
    await worker.emit({ jobId: after, status: 'succeeded', attempt: 1, result: { n: 2 } });
    await eventually(async () => (await status(after)) === 'succeeded', 10_000);
    // The segments of the deleted stream were dropped, not read at the new stream's offsets: an old job is simply gone.
    expect(api.history.state()).toMatchObject({ stream: true, segments: 0 });
    expect(await status(old[1]!)).toBe(404);
  });

  it("a tail refused after startAt (the stream not back yet) offers the same position to the next startAt, not none", async () => {
    // The tail's own stream, so the API's tail is not involved. While a cluster restarts, the stream can take the
    // marker that startAt appends and still refuse the consume (NOT_FOUND): the tail then tries again, and must
    // offer the position it held when it lost the stream, or startAt re-attaches it without one.
    const amqp = await amqplib.connect(vh.amqpUrl);
    const ch = await amqp.createChannel();
    const declare = async () => {
      await ch.assertExchange('own.events', 'fanout', { durable: true });
      await ch.assertQueue('own.events.log', { durable: true, arguments: { 'x-queue-type': 'stream' } });
      await ch.bindQueue('own.events.log', 'own.events', '');
    };
    await declare();
    const offered: (number | undefined)[] = [];
    const index = createJobStatusIndex({ capacity: 100 });
    const tailer = createJobEventsTailer({
      connection: conn,
      publisher,
      index,
      exchange: 'own.events',
      stream: 'own.events.log',
      keys: await brokerEventKeys(vh),
      logger: testLogger(),
      retryMs: 100,
      // Attaches at the first message each time; while the stream is missing its consume is refused.
      startAt: async (resumeAfter) => {
        offered.push(resumeAfter);
        return { offset: 'first' };
      },
    });
    try {
      // The tail's own catch-up marker is the message it reads.
      await eventually(async () => index.isCaughtUp() && tailer.lastOffset() !== undefined, 10_000);
      const held = tailer.lastOffset();
      expect(offered).toEqual([undefined]);

      await vh.management.delete(`/queues/${seg(vh.vhost)}/${seg('own.events.log')}`);
      // Lost: the next startAt gets the position; its consume is refused (no stream), and so is the one after.
      await eventually(async () => offered.length >= 3, 10_000);
      expect(tailer.isAttached()).toBe(false);
      expect(offered.slice(1, 3)).toEqual([held, held]);

      await declare();
      await eventually(async () => tailer.isAttached(), 10_000);
      expect(offered.every((o, i) => i === 0 || o === held)).toBe(true);
    } finally {
      await tailer.close();
      await ch.close().catch(() => undefined);
      await amqp.close();
    }
  });
});
