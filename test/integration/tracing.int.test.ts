import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { SHIPPED_TOPOLOGY } from './helpers/topology.ts';

// Traces through the real composition: `warren start all` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
// OTLP/HTTP receiver in this test, one chat job whose first LLM call gets a 429 (so it is retried once),
// then SIGTERM (the exporter flushes on graceful shutdown) and the received spans checked as one trace.
const ROOT = resolve(import.meta.dirname, '../..');

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

describe('OpenTelemetry traces of a job', () => {
  let vh: TestVhost;
  let receiver: Server;
  let child: ChildProcess | undefined;
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const clientTraceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  const clientSpanId = '0123456789abcdef';
  let jobId = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    vh = await createTestVhost('tracing');
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`);
        const doc = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const otlp = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const [apiPort, llmPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WARREN_AMQP_URL: vh.amqpUrl,
      WARREN_MANAGEMENT_URL: vh.managementUrl,
      WARREN_VHOST: vh.vhost,
      WARREN_AUTH: 'none',
      WARREN_API_PORT: String(apiPort),
      WARREN_LOG_FORMAT: 'json',
      OPENAI_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
      FAKE_LLM_LATENCY_MS: '5',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
    };
    delete env.OPENAI_API_KEY;
    const proc = spawn(process.execPath, [join(ROOT, 'bin/warren.js'), '-f', SHIPPED_TOPOLOGY, 'start', 'all', '--consumers', 'llm-realtime'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let log = '';
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`warren did not start:\n${log}`)), 60_000);
      const onData = (b: Buffer) => {
        log += b.toString();
        if (log.includes('workers consuming') && log.includes('API listening')) {
          clearTimeout(timer);
          ready();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => fail(new Error(`warren exited with ${code}:\n${log}`)));
    });
    expect(log).toContain('tracing: exporting spans over OTLP/HTTP');
    // The realtime tier retries after 1 s (policy llm-fast); the fake LLM answers the first call 429.
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/jobs/chat?wait=30s`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${clientTraceId}-${clientSpanId}-01` },
      body: JSON.stringify({ model: 'gpt-4o-mini', priority: 'realtime', messages: [{ role: 'user', content: 'trace me [[fail-first:1:429]]' }] }),
    });
    const view = (await res.json()) as { id: string; status: string; attempts: unknown[] };
    expect(res.status).toBe(200);
    expect(view.status).toBe('succeeded');
    expect(view.attempts).toHaveLength(2);
    jobId = view.id;
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    exitCode = await exited;
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await new Promise((r) => receiver?.close(r));
    await vh?.cleanup();
  });

  it('exports over OTLP/HTTP JSON to <endpoint>/v1/traces, flushed by the graceful shutdown', () => {
    expect(exitCode).toBe(0);
    expect([...contentTypes]).toEqual(['POST /v1/traces application/json']);
    expect(spans.length).toBeGreaterThan(0);
  });

  it('records one connected trace from the HTTP request to the LLM call for a job retried once', () => {
    const mine = spans.filter((s) => s.traceId === clientTraceId);
    expect(mine.length).toBe(spans.length); // nothing of this job outside the client's trace
    const byId = new Map(mine.map((s) => [s.spanId, s]));
    const named = (re: RegExp) => mine.filter((s) => re.test(s.name));

    const [accept] = named(/^POST \/v1\/jobs\/\{route\}$/);
    expect(accept?.parentSpanId).toBe(clientSpanId); // continues the caller's traceparent
    expect(attr(accept as OtlpSpan, 'warren.job_id')).toBe(jobId);
    const [publish] = named(/^publish chat$/);
    expect(publish?.parentSpanId).toBe(accept?.spanId);

    const consumes = named(/^consume chat$/).sort((a, b) => Number(attr(a, 'warren.attempt')) - Number(attr(b, 'warren.attempt')));
    expect(consumes.map((s) => attr(s, 'warren.attempt'))).toEqual([1, 2]);
    for (const c of consumes) {
      expect(c.parentSpanId).toBe(publish?.spanId); // both attempts hang off the one publish
      expect(attr(c, 'messaging.message.id')).toBe(jobId);
    }
    const llm = named(/^chat gpt-4o-mini$/);
    expect(llm).toHaveLength(2);
    const llmOf = (c: OtlpSpan) => llm.find((s) => s.parentSpanId === c.spanId);
    expect(attr(llmOf(consumes[0] as OtlpSpan) as OtlpSpan, 'http.response.status_code')).toBe(429);
    expect(llmOf(consumes[0] as OtlpSpan)?.status?.code).toBe(2); // ERROR
    expect(attr(llmOf(consumes[1] as OtlpSpan) as OtlpSpan, 'http.response.status_code')).toBe(200);
    const settles = named(/^settle$/);
    expect(settles.map((s) => s.parentSpanId).sort()).toEqual(consumes.map((c) => c.spanId).sort());

    // Every span's parent is in the trace, up to the client's span: one tree.
    for (const s of mine) {
      let cur: OtlpSpan | undefined = s;
      for (let depth = 0; cur && cur.parentSpanId !== clientSpanId; depth++) {
        expect(depth).toBeLessThan(10);
        cur = byId.get(cur.parentSpanId ?? '');
        expect(cur, `parent of ${s.name}`).toBeDefined();
      }
    }
  });
});
