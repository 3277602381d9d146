import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { topologySchema } from '../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { createRateLimiter } from '../llm/rate-limiter.ts';
import { createSilentLogger } from '../observability/logger.ts';
import { createConsumerRuntime } from './consumer-runtime.ts';
import { createJobEventKeyring } from '../jobs/job-event-signature.ts';
import { createBatchedJobEventPublisher } from './event-batcher.ts';
import type { JobHandler } from './handler-contract.ts';
import { createJobSettler } from './job-settler.ts';
import { createPayloadValidator } from './payload-validator.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from '../submit/submitter.ts';
import { createRoutePublisher } from './route-publisher.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

/**
 * The consumer runtime on a fake channel and a fake confirm publisher whose
 * confirms the test releases by hand: what is acked, when, and in which
 * order with the publishes, without a broker.
 */
function harness(handler: JobHandler, options: { timeout?: string; runningEventAfterMs?: number } = {}) {
  const topology = topologySchema.parse({
    version: 1,
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: { tasks: { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' } }, dead: { type: 'quorum' } },
    bindings: [
      { source: 'jobs', queue: 'tasks', routingKey: 'tasks' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    routes: { task: { exchange: 'jobs', routingKey: 'tasks', schema: 'task' } },
    consumers: { tasks: { queue: 'tasks', handler: 'echo-task', route: 'task', prefetch: 10, ...(options.timeout ? { timeout: options.timeout } : {}) } },
  });
  const consumer = topology.consumers.tasks!;
  /** Everything in order: publishes (`publish <exchange> <type>`), confirms and acks. */
  const log: string[] = [];
  const unconfirmed: (() => void)[] = [];
  const published: PublishRequest[] = [];
  const publisher = {
    publish(req: PublishRequest) {
      published.push(req);
      log.push(`publish ${req.exchange || req.routingKey} ${String(req.properties?.type ?? '')}`);
      return new Promise<void>((resolve) => unconfirmed.push(resolve));
    },
    isReady: () => true,
    stats: () => ({ confirmed: 0, nacked: 0, returned: 0, timedOut: 0, waiting: 0, inFlight: 0 }),
    close: async () => undefined,
  };
  const logger = createSilentLogger();
  const metrics = createWorkerMetrics({ defaults: false });
  const events = createBatchedJobEventPublisher(publisher, topology.jobEvents, 'worker', createJobEventKeyring('unit-test-event-key-0123456789', '/'));
  const routes = createRoutePublisher({ submitter: createSubmitter({ routes: compileRoutes(topology, BUILTIN_PAYLOAD_SCHEMAS), publisher, appId: 'warren-worker' }), publisher, events });
  const settler = createJobSettler({ consumerName: 'tasks', consumer, topology, publisher, events, routes, metrics, logger, tiers: [], policy: undefined, secrets: [] });
  let deliver: ((m: ConsumeMessage | null) => void) | undefined;
  let closeChannel: (() => void) | undefined;
  /** Every channel opened, with the connection it was opened on and the tags acked on it. */
  const channels: { conn: number; acked: number[] }[] = [];
  function openChannel(connId: number) {
    const record = { conn: connId, acked: [] as number[] };
    channels.push(record);
    return {
      on(event: string, cb: () => void) {
        if (event === 'close') closeChannel = cb;
      },
      prefetch: async () => undefined,
      consume: async (_q: string, cb: (m: ConsumeMessage | null) => void) => {
        deliver = cb;
        return { consumerTag: `c${channels.length}` };
      },
      ack(m: { fields: { deliveryTag: number } }, multiple: boolean) {
        record.acked.push(m.fields.deliveryTag);
        log.push(`ack ${m.fields.deliveryTag}${multiple ? ' multiple' : ''}`);
      },
      nack(m: { fields: { deliveryTag: number } }) {
        log.push(`nack ${m.fields.deliveryTag}`);
      },
      close: async () => undefined,
      cancel: async () => undefined,
    };
  }
  const makeConn = (id: number) => ({ createChannel: async () => openChannel(id) });
  let conn = makeConn(1);
  let setup: ((c: unknown) => void | Promise<void>) | undefined;
  const connection = {
    onConnect(cb: (c: unknown) => void | Promise<void>) {
      setup = cb;
      void cb(conn);
      return () => undefined;
    },
    current: () => conn,
  } as unknown as BrokerConnection;
  const runtime = createConsumerRuntime({
    name: 'tasks',
    consumer,
    connection,
    handler,
    validator: createPayloadValidator(topology, consumer, BUILTIN_PAYLOAD_SCHEMAS),
    settler,
    events,
    routes,
    limiter: createRateLimiter(),
    llmClient: undefined,
    metrics,
    logger,
    ...(options.runningEventAfterMs === undefined ? {} : { runningEventAfterMs: options.runningEventAfterMs }),
  });
  let tag = 0;
  return {
    runtime,
    log,
    published,
    /** Releases every confirm asked for so far. */
    confirmAll() {
      for (const r of unconfirmed.splice(0)) r();
      log.push('confirmed');
    },
    send(input: Record<string, unknown>) {
      tag++;
      deliver?.({
        fields: { consumerTag: `c${channels.length}`, deliveryTag: tag, redelivered: false, exchange: 'jobs', routingKey: 'tasks' },
        properties: { contentType: 'application/json', headers: { 'x-warren-route': 'task' }, messageId: `job-${tag}` },
        content: Buffer.from(JSON.stringify({ type: 't', input })),
      } as unknown as ConsumeMessage);
    },
    closeChannel: () => closeChannel?.(),
    channels,
    metrics,
    /**
     * Runs the connection's setup hook again, as amqp-connection-manager does
     * after a reconnect: on a new connection, or on the same one.
     */
    async reconnect(to: 'new' | 'same') {
      if (to === 'new') conn = makeConn(channels.length + 1);
      await setup?.(conn);
    },
    eventsOf: (jobId: string) =>
      published
        .filter((r) => r.exchange === topology.jobEvents.exchange)
        .flatMap((r) => [JSON.parse(r.content.toString()) as unknown].flat() as { jobId: string; status: string }[])
        .filter((e) => e.jobId === jobId)
        .map((e) => e.status),
  };
}

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consumer runtime', () => {
  it('acks a finished job only after its succeeded event is confirmed, in one multiple ack per turn', async () => {
    const h = harness(async (job) => ({ echo: (job.payload as { input: unknown }).input }));
    await h.runtime.start();
    h.send({ i: 1 });
    h.send({ i: 2 });
    await turn();
    await turn();
    expect(h.log).toEqual(['publish warren.events job.batch']);
    h.confirmAll();
    await turn();
    await turn();
    expect(h.log).toEqual(['publish warren.events job.batch', 'confirmed', 'ack 2 multiple']);
    expect(h.eventsOf('job-1')).toEqual(['succeeded']);
    expect(h.runtime.stats()).toMatchObject({ running: 0, unsettled: 0 });
    await h.runtime.stop(Date.now());
  });

  it('times out a handler that ignores its signal (the sweep aborts it), then dead-letters before acking', async () => {
    let aborted = false;
    const h = harness(
      (_job, ctx) => {
        ctx.signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => undefined); // never settles
      },
      { timeout: '60ms' },
    );
    await h.runtime.start();
    const t0 = performance.now();
    h.send({});
    for (let i = 0; i < 100 && !h.log.some((l) => l.startsWith('publish dlx')); i++) await sleep(5);
    const elapsed = performance.now() - t0;
    expect(aborted).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(55);
    expect(elapsed).toBeLessThan(400);
    expect(h.log.filter((l) => l.startsWith('ack'))).toEqual([]);
    h.confirmAll(); // the dead letter
    await turn();
    await turn();
    h.confirmAll(); // its event
    await turn();
    await turn();
    expect(h.log.filter((l) => l.startsWith('publish') || l.startsWith('ack'))).toEqual(['publish dlx ', 'publish warren.events job.dead-lettered', 'ack 1 multiple']);
    const dead = h.published.find((r) => r.exchange === 'dlx');
    expect(JSON.stringify(dead?.properties?.headers)).toMatch(/timed out after 60ms/);
    await h.runtime.stop(Date.now());
  });

  it('emits running only for a job still running after runningEventAfterMs', async () => {
    const h = harness(async (job, ctx) => {
      const ms = (job.payload as { input: { ms: number } }).input.ms;
      await new Promise((r) => setTimeout(r, ms));
      return ctx.jobId;
    }, { runningEventAfterMs: 40 });
    await h.runtime.start();
    h.send({ ms: 0 });
    h.send({ ms: 150 });
    await sleep(120);
    h.confirmAll();
    await sleep(80);
    h.confirmAll();
    await turn();
    await turn();
    expect(h.eventsOf('job-1')).toEqual(['succeeded']);
    expect(h.eventsOf('job-2')).toEqual(['running', 'succeeded']);
    await h.runtime.stop(Date.now());
  });

  it('never acks a job whose channel closed while its event was unconfirmed', async () => {
    const h = harness(async () => 'ok');
    await h.runtime.start();
    h.send({});
    await turn();
    await turn();
    h.closeChannel();
    h.confirmAll();
    await turn();
    await turn();
    expect(h.log.filter((l) => l.startsWith('ack') || l.startsWith('nack'))).toEqual([]);
    expect(h.runtime.stats().unsettled).toBe(0);
    await h.runtime.stop(Date.now());
  });

  it('after a reconnect whose old channel has not reported its close, consumes on the new connection and never acks the old deliveries', async () => {
    let release: (() => void) | undefined;
    const h = harness((job) => ((job.payload as { input: { wait?: boolean } }).input.wait ? new Promise((r) => (release = () => r('late'))) : Promise.resolve('ok')));
    await h.runtime.start();
    h.send({ wait: true });
    await turn();
    await h.reconnect('new');
    expect(h.channels.map((c) => c.conn)).toEqual([1, 2]);
    expect(h.runtime.stats().consuming).toBe(true);
    expect((await h.metrics.jobs.get()).values).toContainEqual({ labels: { consumer: 'tasks', route: 'task', outcome: 'dropped' }, value: 1 });
    release?.();
    h.send({});
    for (let i = 0; i < 4; i++) {
      await turn();
      h.confirmAll();
      await turn();
    }
    // The first delivery's tag means nothing on the new channel: it is never acked anywhere; the broker redelivers it.
    expect(h.channels[0]?.acked).toEqual([]);
    expect(h.channels[1]?.acked).toEqual([2]);
    expect(h.runtime.stats().unsettled).toBe(0);
    await h.runtime.stop(Date.now());
  });

  it('a setup call on the connection that opened the channel opens no second one', async () => {
    const h = harness(async () => 'ok');
    await h.runtime.start();
    await h.reconnect('same');
    await turn();
    expect(h.channels.map((c) => c.conn)).toEqual([1]);
    expect(h.runtime.stats().consuming).toBe(true);
    await h.runtime.stop(Date.now());
  });
});
