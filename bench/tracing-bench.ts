/**
 * Tracing cost per job: the hooks a job passes through (API: accept + publish spans; worker: consume,
 * LLM call and settle spans, per attempt), with the real SDK batching and exporting over OTLP/HTTP to a
 * receiver in another process, against the same loop with tracing off (no tracer: what every job pays
 * when OTEL_EXPORTER_OTLP_ENDPOINT is unset). Process CPU time per job, export and flush included.
 *   node --import tsx bench/tracing-bench.ts [--quick]
 * The end-to-end API figure with tracing off against the code before tracing existed comes from the API
 * bench's same-run baseline (WARREN_BENCH_BASELINE, see docs/benchmarks.md).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { Tracer } from '@opentelemetry/api';
import { startPublishTrace } from '../src/api/jobs/job-trace.ts';
import { contextFromTraceparent, createTracing, endSpan, SpanKind, startChildSpan } from '../src/observability/tracing.ts';
import type { BenchFigure } from './figures.ts';

/** Figures of one run. */
export interface TracingBenchResult {
  jobs: number;
  /** CPU µs per job with tracing off (the hooks' `undefined` checks only). */
  offUsPerJob: number;
  /** CPU µs per job with tracing on, export included. */
  onUsPerJob: number;
  spansExported: number;
  figures: BenchFigure[];
  pass: boolean;
}

/** An OTLP/HTTP receiver in its own process that counts spans and drops them. */
async function startReceiver(): Promise<{ url: string; stop(): Promise<number> }> {
  const code = `
    let spans = 0;
    const s = require('node:http').createServer((q, r) => { let b = ''; q.on('data', (c) => (b += c)); q.on('end', () => {
      try { for (const rs of JSON.parse(b).resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length; } catch {}
      r.writeHead(200, { 'content-type': 'application/json' }).end('{}'); }); });
    s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port })));
    process.on('SIGTERM', () => { console.log(JSON.stringify({ spans })); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const port = (JSON.parse((await lines.next()).value as string) as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      const spans = (JSON.parse((await lines.next()).value as string) as { spans: number }).spans;
      await once(child, 'exit').catch(() => undefined);
      return spans;
    },
  };
}

/** What one job does at each hook, as src/api/routes/jobs.ts and src/worker/* do it; `attempts` consume spans. */
async function oneJob(tracer: Tracer | undefined, i: number, attempts: number): Promise<void> {
  const id = `job-${i}`;
  const trace = tracer === undefined ? undefined : startPublishTrace(tracer, '00-a1b2c3d4e5f60718293a4b5c6d7e8f90-0123456789abcdef-01', 'chat', id);
  const traceparent = trace?.traceparent ?? '00-a1b2c3d4e5f60718293a4b5c6d7e8f90-b7ad6b7169203331-01';
  trace?.end();
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const consume = tracer === undefined ? undefined : startChildSpan(tracer, 'consume chat', SpanKind.CONSUMER, contextFromTraceparent(traceparent), { 'messaging.system': 'rabbitmq', 'messaging.message.id': id, 'warren.attempt': attempt });
    const llm = tracer === undefined ? undefined : startChildSpan(tracer, 'chat gpt-4o-mini', SpanKind.CLIENT, consume as never, { 'gen_ai.request.model': 'gpt-4o-mini' });
    if (llm !== undefined) {
      llm.setAttribute('http.response.status_code', 200);
      llm.setAttributes({ 'gen_ai.usage.input_tokens': 9, 'gen_ai.usage.output_tokens': 8 });
      endSpan(llm);
    }
    if (consume !== undefined) {
      const settle = startChildSpan(tracer as Tracer, 'settle', SpanKind.INTERNAL, consume, { 'warren.outcome': 'succeeded' });
      endSpan(settle);
      endSpan(consume);
    }
  }
  // Yield now and then, as real jobs do, so the batch processor's timer and exports run during the loop.
  if (i % 32 === 0) await new Promise((r) => setImmediate(r));
}

async function measure(tracer: Tracer | undefined, jobs: number, flush: () => Promise<void>): Promise<number> {
  const cpu = process.cpuUsage();
  for (let i = 0; i < jobs; i++) await oneJob(tracer, i, 1);
  await flush();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / jobs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Runs the benchmark: alternating rounds off / on after a warm-up; medians count. */
export async function run(options: { quick?: boolean } = {}): Promise<TracingBenchResult> {
  const jobs = options.quick === true ? 5_000 : 20_000;
  const rounds = options.quick === true ? 3 : 5;
  const receiver = await startReceiver();
  const off: number[] = [];
  const on: number[] = [];
  let spans = 0;
  try {
    for (let round = 0; round <= rounds; round++) {
      const offUs = await measure(undefined, jobs, async () => undefined);
      // A fresh provider per round, shut down (flushed) inside the measured time.
      const tracing = await createTracing({ endpoint: receiver.url, serviceName: 'warren-bench' });
      const onUs = await measure(tracing.tracer, jobs, () => tracing.shutdown());
      if (round === 0) continue; // warm-up
      off.push(offUs);
      on.push(onUs);
      process.stderr.write(`[tracing-bench] round ${round}: off ${offUs.toFixed(2)} µs/job, on ${onUs.toFixed(1)} µs/job\n`);
    }
  } finally {
    spans = await receiver.stop();
  }
  const offUsPerJob = Math.round(median(off) * 100) / 100;
  const onUsPerJob = Math.round(median(on) * 10) / 10;
  // Every span of every measured and warm-up round reached the receiver: 5 spans per job.
  const expected = (rounds + 1) * jobs * 5;
  const figures: BenchFigure[] = [
    {
      group: 'tracing',
      name: 'CPU per job, tracing on (5 spans, OTLP export)',
      unit: 'µs/job',
      value: onUsPerJob,
      reference: offUsPerJob,
      referenceName: 'the same hooks with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)',
      target: 'reported (tracing is opt-in); off stays < 0.5 µs/job',
      pass: Number.isFinite(onUsPerJob) && offUsPerJob < 0.5 && spans === expected,
      higherIsBetter: false,
    },
  ];
  return { jobs, offUsPerJob, onUsPerJob, spansExported: spans, figures, pass: figures.every((f) => f.pass) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ quick: process.argv.includes('--quick') })
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.exitCode = r.pass ? 0 : 1;
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    });
}
