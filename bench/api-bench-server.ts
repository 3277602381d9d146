/**
 * One server of the API benchmark, run in its own process so the load
 * generator never shares its event loop:
 *   node --import tsx bench/api-bench-server.ts warren|reference|reference-same
 * Reads BENCH_AMQP_URL (with the vhost) and BENCH_VHOST (and, for experiments, BENCH_CHANNELS: warren's
 * publisher confirm channels, default as in production); prints {"port": N} when listening.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import amqplib from 'amqplib';
import { Hono } from 'hono';
import { startApi } from '../src/api/start-api.ts';
import { topologySchema } from '../src/config/topology-schema.ts';
import { createJobEventKeyring } from '../src/jobs/job-event-signature.ts';
import { createSilentLogger } from '../src/observability/logger.ts';
import { createTracing } from '../src/observability/tracing.ts';

export const BENCH_KEY = 'bench-key-0123456789abcdef';
/** Job-event signing root of the bench (given, so the prefill and the server agree without a broker parameter). */
export const BENCH_EVENT_KEY = 'bench-event-key-0123456789abcdef';

/** The topology warren serves in the benchmark: one chat route onto a quorum queue, job events into a stream. */
export function benchTopology(amqpUrl: string, vhost: string) {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [amqpUrl], vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    jobEvents: { exchange: 'warren.events', stream: 'warren.events.log' },
  });
}

async function startWarren(amqpUrl: string, vhost: string): Promise<number> {
  // BENCH_OTLP_ENDPOINT (set by bench/traced-api/): the same server with tracing on, exporting there.
  const { tracer } = await createTracing({ endpoint: process.env.BENCH_OTLP_ENDPOINT, serviceName: 'warren-bench' });
  // Everything as in production: auth on, metrics on, status index tailing the stream, queued events published.
  const api = await startApi({
    ...(tracer === undefined ? {} : { tracer }), topology: benchTopology(amqpUrl, vhost), port: 0, host: '127.0.0.1', apiKeys: `${BENCH_KEY}:*:metrics`, eventKeys: createJobEventKeyring(BENCH_EVENT_KEY, vhost), logger: createSilentLogger(), ...(process.env.BENCH_CHANNELS ? { publisherChannels: Number(process.env.BENCH_CHANNELS) } : {}) });
  return api.port;
}

/**
 * The reference: a bare Hono route doing one confirmed amqplib publish, nothing else.
 * With `sameMessage`, it publishes the message warren publishes (same properties and
 * x-warren-* headers, built from constants): that variant separates the cost of the
 * message contract from the cost of the framework.
 */
async function startReference(amqpUrl: string, sameMessage: boolean): Promise<number> {
  // noDelay as warren's connection has it: the reference gets the same TCP settings, not a handicap.
  const conn = await amqplib.connect(amqpUrl, { noDelay: true } as never);
  const ch = await conn.createConfirmChannel();
  const app = new Hono();
  app.post('/jobs', async (c) => {
    const body = await c.req.json();
    const id = randomUUID();
    const properties = sameMessage
      ? {
          persistent: true,
          mandatory: true,
          messageId: id,
          correlationId: id,
          timestamp: Math.floor(Date.now() / 1000),
          contentType: 'application/json',
          appId: 'warren-api',
          headers: { 'x-warren-route': 'chat', traceparent: `00-${id.replace(/-/g, '')}-b7ad6b7169203331-01` },
        }
      : { persistent: true, mandatory: true, messageId: id, contentType: 'application/json' };
    await new Promise<void>((resolve, reject) =>
      ch.publish('llm.jobs', 'ref.standard.chat', Buffer.from(JSON.stringify(body)), properties, (err: unknown) => (err ? reject(err as Error) : resolve())),
    );
    return c.json({ id, status: 'queued' }, 202);
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  return (server.address() as AddressInfo).port;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const mode = process.argv[2];
  const url = process.env.BENCH_AMQP_URL ?? '';
  const vhost = process.env.BENCH_VHOST ?? '/';
  const port =
    mode === 'warren' ? await startWarren(url, vhost) : mode === 'reference' || mode === 'reference-same' ? await startReference(url, mode === 'reference-same') : undefined;
  if (port === undefined) {
    process.stderr.write('usage: api-bench-server.ts warren|reference|reference-same\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  // The parent asks for the CPU time used so far (per-request cost, less sensitive to a busy machine than req/s).
  process.on('SIGUSR2', () => {
    const u = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000 })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
