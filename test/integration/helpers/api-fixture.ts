import amqplib from 'amqplib';
import { topologySchema, type Topology } from '../../../src/config/topology-schema.ts';
import { loadJobEventKeyring } from '../../../src/jobs/job-event-key.ts';
import type { JobEventKeyring } from '../../../src/jobs/job-event-signature.ts';
import { createLogger, type Logger } from '../../../src/observability/logger.ts';
import type { TestVhost } from './test-vhost.ts';

/** Keys the API integration tests use; the first (env#1, what AUTH presents) may also scrape /metrics. */
export const API_KEYS = 'int-key-0123456789:*:metrics;chat-only-0123456789:chat';
export const AUTH = { authorization: 'Bearer int-key-0123456789' };

/**
 * The topology of the API tests: `llm.jobs` (topic) routes `llm.standard.#` to a
 * quorum queue and `llm.realtime.#` to a queue that is always full
 * (max-length 0, reject-publish); nothing is bound for `llm.batch.*` (unroutable).
 * `documents` is a headers exchange; job events go through a fanout into a stream.
 */
export function apiTestTopology(amqpUrl: string, vhost: string, overrides: { publishTimeout?: string } = {}): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [amqpUrl], vhost, heartbeat: 5 },
    exchanges: { 'llm.jobs': { type: 'topic' }, documents: { type: 'headers' } },
    routes: {
      chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' }, publishTimeout: overrides.publishTimeout ?? '3s' },
      task: { exchange: 'llm.jobs', routingKey: 'llm.standard.task', schema: 'task' },
    },
    jobEvents: { exchange: 'warren.events', stream: 'warren.events.log', indexSize: 10_000 },
  });
}

/** Declares the objects of {@link apiTestTopology} with plain amqplib. */
export async function declareApiTestTopology(vh: TestVhost): Promise<void> {
  const conn = await amqplib.connect(vh.amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange('llm.jobs', 'topic', { durable: true });
    await ch.assertQueue('llm.standard', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue('llm.standard', 'llm.jobs', 'llm.standard.#');
    await ch.assertQueue('llm.realtime', { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue('llm.realtime', 'llm.jobs', 'llm.realtime.#');
    await ch.assertExchange('documents', 'headers', { durable: true });
    await ch.assertQueue('documents.pdf', { durable: true });
    await ch.bindQueue('documents.pdf', 'documents', '', { 'x-match': 'all', format: 'pdf' });
    await ch.assertExchange('warren.events', 'fanout', { durable: true });
    await ch.assertQueue('warren.events.log', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h' } });
    await ch.bindQueue('warren.events.log', 'warren.events', '');
    await ch.close();
  } finally {
    await conn.close();
  }
}

/** A quiet logger for the API under test (WARREN_TEST_LOG=debug to see it). */
export function testLogger(): Logger {
  return createLogger({ level: process.env.WARREN_TEST_LOG ?? 'silent', name: 'api-test' });
}

/** A chat job body of about `bytes` bytes. */
export function chatBody(bytes = 200, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: '' }], temperature: 0.2, max_tokens: 256, metadata: { tenant: 'acme' }, ...extra };
  const pad = Math.max(0, bytes - JSON.stringify(base).length);
  (base.messages[1] as { content: string }).content = 'Summarise: ' + 'lorem ipsum '.repeat(Math.ceil(pad / 12)).slice(0, pad);
  return base;
}

/** POSTs JSON to the API. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers, ms: performance.now() - started };
}

/** GETs JSON from the API. */
export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers: AUTH });
  return { status: res.status, body: await res.json() };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The job-event keys warren uses in the test's vhost (read from the broker, created if none): to write events as a worker would. */
export function brokerEventKeys(vh: TestVhost): Promise<JobEventKeyring> {
  return loadJobEventKeyring({ vhost: vh.vhost, management: vh.management, logger: testLogger() });
}
