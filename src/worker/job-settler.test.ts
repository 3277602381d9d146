import type { Channel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { topologySchema } from '../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { createSilentLogger } from '../observability/logger.ts';
import { createDelivery } from './delivery.ts';
import { createJobEventKeyring } from '../jobs/job-event-signature.ts';
import { createBatchedJobEventPublisher } from './event-batcher.ts';
import { createJobSettler } from './job-settler.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from '../submit/submitter.ts';
import { createRoutePublisher } from './route-publisher.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

/** A settler over the real event batcher and a publisher that confirms at once; what it publishes and acks is recorded. */
function harness(withResults: boolean) {
  const topology = topologySchema.parse({
    version: 1,
    exchanges: { jobs: { type: 'direct' }, results: { type: 'fanout' } },
    queues: { tasks: { type: 'quorum' } },
    bindings: [{ source: 'jobs', queue: 'tasks', routingKey: 'tasks' }],
    routes: { task: { exchange: 'jobs', routingKey: 'tasks', schema: 'task' } },
    consumers: { tasks: { queue: 'tasks', handler: 'echo-task', route: 'task', ...(withResults ? { results: { exchange: 'results' } } : {}) } },
  });
  const published: PublishRequest[] = [];
  const publisher = {
    publish: async (req: PublishRequest) => void published.push(req),
    isReady: () => true,
    stats: () => ({ confirmed: 0, nacked: 0, returned: 0, timedOut: 0, waiting: 0, inFlight: 0 }),
    close: async () => undefined,
  };
  const events = createBatchedJobEventPublisher(publisher, topology.jobEvents, 'worker', createJobEventKeyring('unit-test-event-key-0123456789', '/'));
  const routes = createRoutePublisher({ submitter: createSubmitter({ routes: compileRoutes(topology, BUILTIN_PAYLOAD_SCHEMAS), publisher, appId: 'warren-worker' }), publisher, events });
  const settler = createJobSettler({
    consumerName: 'tasks-consumer',
    consumer: topology.consumers.tasks!,
    topology,
    publisher,
    events,
    routes,
    metrics: createWorkerMetrics({ defaults: false }),
    logger: createSilentLogger(),
    tiers: [],
    policy: undefined,
    secrets: [],
  });
  const acked: number[] = [];
  const session = { channel: {} as Channel, open: true, consumerTag: 'c1', acks: { ack: (t: number) => void acked.push(t), settled: () => undefined, flush: () => undefined } };
  const delivery = (jobId: string, route: string | undefined, attempt: number) => {
    const msg = { fields: { deliveryTag: 7, redelivered: false, exchange: 'jobs', routingKey: 'tasks', consumerTag: 'c1' }, properties: { messageId: jobId, headers: {} }, content: Buffer.from('{}') };
    const d = createDelivery(session, msg as unknown as ConsumeMessage, attempt);
    d.route = route;
    return d;
  };
  const body = (exchange: string) => published.find((r) => r.exchange === exchange)?.content.toString('utf8');
  return { settler, delivery, published, acked, body, eventsExchange: topology.jobEvents.exchange };
}

const usage = { promptTokens: 3, completionTokens: 4, totalTokens: 7 };

describe('job settler: a succeeded job', () => {
  it('writes its event as the JSON of {status, route, attempt, result, usage, jobId, queue, durationMs}, then acks', async () => {
    const h = harness(false);
    await h.settler.succeed(h.delivery('j"1', 'task', 2), { text: 'é "quoted"', n: [1, 2] }, usage, 1.2344);
    const text = h.body(h.eventsExchange)!;
    const at = (JSON.parse(text) as { at: string }).at;
    expect(text).toBe(JSON.stringify({ source: 'worker', at, status: 'succeeded', route: 'task', attempt: 2, result: { text: 'é "quoted"', n: [1, 2] }, usage, jobId: 'j"1', queue: 'tasks', durationMs: 1234 }));
    expect(h.acked).toEqual([7]);
  });

  it('says `"result":null` when the handler returned nothing, and leaves out what is undefined', async () => {
    const h = harness(false);
    await h.settler.succeed(h.delivery('j2', undefined, 1), undefined, undefined, 0);
    const text = h.body(h.eventsExchange)!;
    const at = (JSON.parse(text) as { at: string }).at;
    expect(text).toBe(`{"source":"worker","at":"${at}","status":"succeeded","attempt":1,"result":null,"jobId":"j2","queue":"tasks","durationMs":0}`);
  });

  it('publishes its result message as the JSON of {jobId, route, consumer, attempt, result, usage, completedAt}', async () => {
    const h = harness(true);
    await h.settler.succeed(h.delivery('j3', 'task', 1), { ok: true }, usage, 0.5);
    const text = h.body('results')!;
    const completedAt = (JSON.parse(text) as { completedAt: string }).completedAt;
    expect(text).toBe(JSON.stringify({ jobId: 'j3', route: 'task', consumer: 'tasks-consumer', attempt: 1, result: { ok: true }, usage, completedAt }));
    expect(h.published.find((r) => r.exchange === 'results')?.properties).toMatchObject({ messageId: 'j3.result', correlationId: 'j3', type: 'job.result', headers: { 'x-warren-route': 'task' } });
    const event = JSON.parse(h.body(h.eventsExchange)!) as { result: unknown };
    expect(event.result).toEqual({ ok: true });
    expect(h.acked).toEqual([7]);
  });

  it('rejects a result JSON cannot hold, publishing and acking nothing', async () => {
    const h = harness(true);
    await expect(h.settler.succeed(h.delivery('j4', 'task', 1), { n: 1n }, undefined, 0)).rejects.toThrow(TypeError);
    await new Promise((r) => setImmediate(r));
    expect(h.published).toEqual([]);
    expect(h.acked).toEqual([]);
  });
});
