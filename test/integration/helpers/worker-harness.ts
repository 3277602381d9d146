import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { LoadedTopology } from '../../../src/config/load-topology.ts';
import { topologySchema, type Topology } from '../../../src/config/topology-schema.ts';
import { validateTopology } from '../../../src/config/validate-topology.ts';
import { HEADERS } from '../../../src/jobs/headers.ts';
import { decodeJobEvents } from '../../../src/jobs/job-event-codec.ts';
import type { JobEvent } from '../../../src/jobs/job-event.ts';
import { ensureTopology } from '../../../src/topology/ensure-topology.ts';
import { TEST_AMQP_BASE, TEST_MANAGEMENT_URL } from './broker-env.ts';
import { createTestVhost, type TestVhost } from './test-vhost.ts';

/** The repository's `consumers/` folder (the real handlers). */
export const CONSUMERS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'consumers');

/** Messages consumed from one queue (no ack) and kept for assertions. */
export interface Collector {
  readonly messages: ConsumeMessage[];
  /** Resolves once `count` messages matched `filter` (default: any), or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number, filter?: (m: ConsumeMessage) => boolean): Promise<ConsumeMessage[]>;
}

/** Collects job events from a classic queue bound to the job-events fanout. */
export interface EventTap {
  readonly events: JobEvent[];
  waitFor(predicate: (e: JobEvent) => boolean, timeoutMs?: number, count?: number): Promise<JobEvent[]>;
  forJob(jobId: string): JobEvent[];
}

/** A test vhost with a topology applied, an admin channel and helpers to publish and observe jobs. */
export interface WorkerHarness {
  vh: TestVhost;
  topology: Topology;
  loaded: LoadedTopology;
  admin: ChannelModel;
  ch: Channel;
  events: EventTap;
  /** Publishes a job as the API does; returns its id. */
  publish(route: string, payload: unknown, options?: { id?: string; raw?: Buffer; headers?: Record<string, unknown> }): Promise<string>;
  collect(queue: string): Promise<Collector>;
  close(): Promise<void>;
}

async function until<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The shared broker is busy with every helper's tests: a management call may
 * time out now and then. Vhost creation and topology apply are idempotent, so
 * they are simply tried again.
 */
async function withRetries<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || (err as { code?: string }).code !== 'BROKER_UNAVAILABLE') throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** Parses, defaults and cross-checks a topology object with a test vhost (fails loudly on mistakes in a test). */
export function testTopology(vhost: string, raw: Record<string, unknown>): Topology {
  const t = topologySchema.parse({
    version: 1,
    connection: { urls: [TEST_AMQP_BASE], management: TEST_MANAGEMENT_URL, vhost },
    ...raw,
  });
  const issues = validateTopology(t, { consumersDir: CONSUMERS_DIR });
  if (issues.length > 0) throw new Error(`test topology is invalid: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return t;
}

/**
 * One quorum work queue (at-least-once dead-lettering, delivery limit 10) drained by the
 * `echo-task` handler with prefetch 10, a dead-letter queue and a results queue: the
 * topology of the shutdown and reconnect tests.
 */
export function echoTaskTopology(): () => Record<string, unknown> {
  return () => ({
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' }, results: { type: 'fanout' } },
    queues: {
      work: { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish', deliveryLimit: 10 },
      dead: { type: 'quorum' },
      'results.q': { type: 'classic' },
    },
    bindings: [
      { source: 'jobs', queue: 'work', routingKey: 'work' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
      { source: 'results', queue: 'results.q' },
    ],
    routes: { task: { exchange: 'jobs', routingKey: 'work', schema: 'task' } },
    consumers: { work: { queue: 'work', handler: 'echo-task', route: 'task', prefetch: 10, timeout: '30s', results: { exchange: 'results' } } },
  });
}

/** Creates a vhost, applies the topology built for it, and opens an admin connection. */
export async function createWorkerHarness(prefix: string, build: (vhost: string) => Record<string, unknown>): Promise<WorkerHarness> {
  const vh = await withRetries(() => createTestVhost(prefix));
  const topology = testTopology(vh.vhost, build(vh.vhost));
  await withRetries(() => ensureTopology(topology, vh.management));
  const admin = await amqplib.connect(vh.amqpUrl);
  const ch = await admin.createChannel();
  const pubCh = await admin.createConfirmChannel();

  await ch.assertQueue('test.events.tap', { durable: false, autoDelete: false });
  await ch.bindQueue('test.events.tap', topology.jobEvents.exchange, '');
  const events: JobEvent[] = [];
  await ch.consume(
    'test.events.tap',
    (m) => {
      if (!m) return;
      // The API's own decoder: the worker coalesces events into arrays, which it must understand.
      events.push(...decodeJobEvents(m.content).events);
    },
    { noAck: true },
  );

  const harness: WorkerHarness = {
    vh,
    topology,
    loaded: { topology, file: join(CONSUMERS_DIR, '..', 'topology.test.yaml'), consumersDir: CONSUMERS_DIR },
    admin,
    ch,
    events: {
      events,
      forJob: (id) => events.filter((e) => e.jobId === id),
      async waitFor(predicate, timeoutMs = 10_000, count = 1) {
        return until(
          () => {
            const hits = events.filter(predicate);
            return hits.length >= count ? hits : undefined;
          },
          timeoutMs,
          () => `${count} job event(s); have ${JSON.stringify(events.map((e) => [e.jobId.slice(0, 8), e.status, e.attempt, e.error?.class]))}`,
        );
      },
    },
    async publish(routeName, payload, options = {}) {
      const route = topology.routes[routeName];
      if (!route) throw new Error(`no route ${routeName}`);
      const id = options.id ?? randomUUID();
      const routingKey = route.routingKey.replace(/\{(\w+)\}/g, (_m, f: string) => String((payload as Record<string, unknown>)[f] ?? route.defaults[f]));
      const content = options.raw ?? Buffer.from(JSON.stringify(payload));
      await new Promise<void>((resolve, reject) => {
        pubCh.publish(
          route.exchange,
          routingKey,
          content,
          {
            persistent: true,
            messageId: id,
            contentType: 'application/json',
            headers: {
              // As the API publishes a job: no attempt or origin headers until a worker republishes it.
              [HEADERS.route]: routeName,
              traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
              ...options.headers,
            },
          },
          (err: unknown) => (err ? reject(err as Error) : resolve()),
        );
      });
      return id;
    },
    async collect(queue) {
      const messages: ConsumeMessage[] = [];
      const c = await admin.createChannel();
      await c.consume(queue, (m) => m && messages.push(m), { noAck: true });
      return {
        messages,
        waitFor: (count, timeoutMs = 10_000, filter = () => true) =>
          until(
            () => {
              const hits = messages.filter(filter);
              return hits.length >= count ? hits : undefined;
            },
            timeoutMs,
            () => `${count} message(s) on ${queue}; have ${messages.filter(filter).length}`,
          ),
      };
    },
    async close() {
      await admin.close().catch(() => undefined);
      await vh.cleanup();
    },
  };
  return harness;
}

/** Reads a header of a consumed message as a string. */
export function header(m: Pick<ConsumeMessage, 'properties'>, name: string): string | undefined {
  const v = (m.properties.headers as Record<string, unknown> | undefined)?.[name];
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString() : String(v);
}

/** Parses a message body as JSON. */
export function body<T = Record<string, unknown>>(m: ConsumeMessage): T {
  return JSON.parse(m.content.toString()) as T;
}
