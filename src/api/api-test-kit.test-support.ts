import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { topologySchema, type Topology } from '../config/topology-schema.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import { createSilentLogger } from '../observability/logger.ts';
import type { ApiDeps } from './app-context.ts';
import { parseApiKeysEnv, type AuthConfig } from './auth/api-keys.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { createApp, type WarrenApp } from './create-app.ts';
import type { PublisherLike } from './jobs/job-submitter.ts';
import { createApiMetrics } from './metrics/api-metrics.ts';
import type { JobEventSink } from './status/job-event-batcher.ts';
import { createJobStatusIndex, type JobStatusIndex } from './status/job-status-index.ts';

/** A publisher that records what it was asked to publish; `fail` decides per request. */
export interface FakePublisher extends PublisherLike {
  published: PublishRequest[];
  fail: ((req: PublishRequest) => Error | undefined) | undefined;
  ready: boolean;
}

export function createFakePublisher(): FakePublisher {
  const fake: FakePublisher = {
    published: [],
    fail: undefined,
    ready: true,
    isReady: () => fake.ready,
    async publish(req) {
      const err = fake.fail?.(req);
      if (err) throw err;
      fake.published.push(req);
    },
  };
  return fake;
}

/** The topology unit tests use: an LLM route with a placeholder, a task route, and a headers exchange. */
export function testTopology(): Topology {
  return topologySchema.parse({
    version: 1,
    exchanges: { 'llm.jobs': { type: 'topic' }, tasks: { type: 'direct' }, documents: { type: 'headers' }, hidden: { type: 'fanout', internal: true } },
    routes: {
      chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' }, publishTimeout: '2s' },
      task: { exchange: 'tasks', routingKey: 'default', schema: 'task' },
    },
  });
}

export const KEYS = 'chat-key-0123456789:chat;all-key-0123456789:*;admin-key-0123456789:*:admin';

/** A complete app over fakes. */
export interface TestApp {
  app: WarrenApp;
  publisher: FakePublisher;
  events: JobEvent[];
  index: JobStatusIndex;
  deps: ApiDeps;
}

export function createTestApp(overrides: Partial<ApiDeps> & { authConfig?: AuthConfig } = {}): TestApp {
  const publisher = createFakePublisher();
  const events: JobEvent[] = [];
  const sink: JobEventSink = { emit: (e) => void events.push(e), flush: async () => undefined };
  const index = createJobStatusIndex({ capacity: 1000 });
  index.markCaughtUp();
  const { authConfig, ...rest } = overrides;
  const deps: ApiDeps = {
    topology: testTopology(),
    publisher,
    index,
    events: sink,
    auth: createAuthenticator(authConfig ?? { mode: 'keys', keys: parseApiKeysEnv(KEYS) }),
    metrics: createApiMetrics({ processMetrics: false }),
    logger: createSilentLogger(),
    isBrokerConnected: () => true,
    isTopologyApplied: () => true,
    ...rest,
  };
  return { app: createApp(deps), publisher, events, index, deps };
}

/** A valid chat job body. */
export function chatJob(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], ...extra };
}

/** Request init for a JSON POST with a key. */
export function post(body: unknown, key = 'all-key-0123456789', headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

export function get(key = 'all-key-0123456789'): RequestInit {
  return { headers: { authorization: `Bearer ${key}` } };
}

/** A test app served by a real @hono/node-server on a free port, and a POST that sends its body in the given pieces. */
export interface ServedTestApp {
  t: TestApp;
  port: number;
  post(path: string, chunks: string[], headers: Record<string, string>): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/** Serves {@link createTestApp} over real HTTP, so a route reads its body from Node's request stream. */
export async function serveTestApp(): Promise<ServedTestApp> {
  const t = createTestApp();
  // As `warren start` serves the API (start-api.ts).
  const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1', autoCleanupIncoming: false });
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  return {
    t,
    port,
    post: (path, chunks, headers) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, agent: false, method: 'POST', path, headers: { 'content-type': 'application/json', authorization: 'Bearer all-key-0123456789', ...headers } },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        for (const c of chunks) req.write(c);
        req.end();
      }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
