/**
 * Worker benchmark, in its own vhost (deleted afterwards), each figure beside
 * its reference from the same run:
 *   (a) instant handler on a quorum queue: warren worker vs a bare amqplib
 *       consume-and-ack loop on the same queue (target >= 70%), and vs BullMQ
 *       on the local Redis for the same number of jobs (target >= 2x); one
 *       warm-up round, then alternating rounds, medians compared;
 *   (b) fake LLM (separate process) at 500 ms latency, prefetch 200: one
 *       worker's sustained rate vs the Little's-law bound of 400 jobs/s
 *       (target >= 90%), and the same calls through the bare SDK for scale;
 *   (c) a 1,200 RPM budget against a fake LLM enforcing 1,200 RPM (sliding
 *       window): achieved rate 95-100% of the budget, zero 429s;
 *   (d) RSS of a worker process holding 1,000 jobs in flight (target < 250 MB).
 * Run: node --import tsx bench/worker-bench.ts [--quick] [--only a,b,c,d] [--no-bullmq]
 *   --quick scales the rate-limit window from 60 s down to 6 s (same budget per
 *   window, same algorithm) and uses fewer jobs; the report says which ran.
 *   --only runs some parts (e.g. `--only a` while working on the consume path);
 *   --no-bullmq leaves BullMQ out of (a). Either way the report says what was skipped.
 *   Env WARREN_BENCH_JOBS / WARREN_BENCH_ROUNDS override the job count and rounds of (a);
 *   WARREN_BENCH_CPU_PROF=<dir> writes a CPU profile of each timed run in (a), warren and bare, there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { topologySchema, type Topology } from '../src/config/topology-schema.ts';
import { HEADERS } from '../src/jobs/headers.ts';
import { createOpenAiClient } from '../src/llm/openai-clients.ts';
import { createSilentLogger, type Logger } from '../src/observability/logger.ts';
import { ensureTopology } from '../src/topology/ensure-topology.ts';
import { startWorker, type Worker } from '../src/worker/start-worker.ts';
import { createTracing } from '../src/observability/tracing.ts';
import { brokerCpuMs } from './broker-cpu.ts';
import type { BenchFigure } from './figures.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONSUMERS_DIR = join(ROOT, 'consumers');
const AMQP_BASE = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const REDIS = { host: process.env.WARREN_BENCH_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.WARREN_BENCH_REDIS_PORT ?? 6379) };

/** Options of {@link run}. */
export interface WorkerBenchOptions {
  /** Jobs for the instant-handler comparison. @default 20000 (quick: 10000) */
  jobs?: number;
  /** Measured alternating rounds in (a), after one warm-up round; each side's median counts. @default 5 (quick: 3) */
  rounds?: number;
  /** Jobs per LLM-latency run (three runs, one with --quick). @default 5000 (quick: 3000) */
  llmJobs?: number;
  /** Rate-limit window (budget is 1,200 per window). @default 60000 (quick: 6000) */
  rateWindowMs?: number;
  quick?: boolean;
  /** Parts to run. @default all of a, b, c, d */
  parts?: readonly BenchPart[];
  /** Run BullMQ in (a). @default true */
  bullmq?: boolean;
}

/** The four parts of the worker bench. */
export type BenchPart = 'a' | 'b' | 'c' | 'd';

/** Figures of one run. */
export interface WorkerBenchResult {
  bench: 'worker';
  throughput: {
    jobs: number;
    prefetch: number;
    warrenPerSec: number;
    barePerSec: number;
    bullmqPerSec: number | null;
    bullmqNote?: string;
    warrenVsBarePct: number;
    warrenVsBullmq: number | null;
    runs: { warren: number[]; bare: number[]; bullmq: number[] };
    warmup: { warren: number; bare: number; bullmq: number | null };
    /** Process CPU time (user + system) per job over each timed run, medians: the steadier figure on a busy machine. */
    cpuUsPerJob: { warren: number; bare: number; runs: { warren: number[]; bare: number[] } };
    /** The local broker's CPU time per job over the same runs, medians (null where it can't be read). */
    brokerCpuUsPerJob: { warren: number; bare: number } | null;
  } | null;
  /** `perSec`: all jobs over the whole run (ramp-up and the last wave included); `steadyPerSec`: from 2 s in to 1 s before the end. */
  llm: {
    jobs: number;
    latencyMs: number;
    prefetch: number;
    perSec: number;
    steadyPerSec: number;
    boundPerSec: number;
    pct: number;
    steadyPct: number;
    sdkOnlyPerSec: number;
    runs: { perSec: number; steadyPerSec: number; sdkOnlyPerSec: number }[];
  } | null;
  rateLimit: { budget: number; windowMs: number; completedInWindow: number; achievedPct: number; worker429s: number; fakeRejected: number; scaled: boolean } | null;
  memory: { inFlight: number; rssMb: number; heapUsedMb: number } | null;
  figures: BenchFigure[];
  pass: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** WARREN_BENCH_OTLP_ENDPOINT: part (a)'s warren side runs with tracing on, exporting there (docs/benchmarks.md, Tracing). */
const BENCH_TRACER = (await createTracing({ endpoint: process.env.WARREN_BENCH_OTLP_ENDPOINT, serviceName: 'warren-bench' })).tracer;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Starts bin/fake-llm.js in its own process (so its CPU is not the worker's). */
async function spawnFake(args: string[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<Record<string, unknown>> }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'fake-llm.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake LLM did not start: ${out}`)), 15_000);
    child.stdout?.on('data', () => {
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      const m = /stats (\{.*\})/.exec(out);
      return m?.[1] ? (JSON.parse(m[1]) as Record<string, unknown>) : {};
    },
  };
}

/** Publishes `n` jobs as the API does (confirmed in batches). */
async function prefill(url: string, exchange: string, routingKey: string, route: string, n: number, payload: (i: number) => unknown): Promise<void> {
  const conn = await amqplib.connect(url);
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < n; i++) {
    ch.publish(exchange, routingKey, Buffer.from(JSON.stringify(payload(i))), {
      persistent: true,
      messageId: randomUUID(),
      contentType: 'application/json',
      headers: { [HEADERS.route]: route, [HEADERS.attempt]: 1, [HEADERS.originExchange]: exchange, [HEADERS.originRoutingKey]: routingKey },
    });
    if (i % 500 === 499) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function jobCount(worker: Worker, consumer: string, outcome: string): Promise<number> {
  const m = await worker.metrics.jobs.get();
  return m.values.filter((v) => v.labels.consumer === consumer && v.labels.outcome === outcome).reduce((a, v) => a + v.value, 0);
}

/** Polls the worker's counter until `n` jobs succeeded; returns the timeline (ms since t0, count). */
async function waitSucceeded(worker: Worker, consumer: string, n: number, t0: number, timeoutMs: number): Promise<[number, number][]> {
  const timeline: [number, number][] = [];
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const c = await jobCount(worker, consumer, 'succeeded');
    timeline.push([performance.now() - t0, c]);
    if (c >= n) return timeline;
    if (performance.now() > deadline) throw new Error(`only ${c}/${n} jobs succeeded within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The openai SDK alone (same client settings as the worker), `concurrency` calls at a time. */
async function sdkLoop(baseURL: string, n: number, concurrency: number): Promise<number> {
  const client = createOpenAiClient({ baseURL, apiKey: 'bench', timeout: 60_000, models: {} });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `summarise item ${next}` }], max_tokens: 32 });
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function bareConsume(url: string, queue: string, n: number, prefetch: number): Promise<number> {
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  await ch.prefetch(prefetch);
  // Timed from the subscription to the last ack, like warren's run (connection setup excluded on both sides).
  const t0 = performance.now();
  let count = 0;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (m) => {
      if (!m) return;
      ch.ack(m);
      if (++count === n) resolve();
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  await conn.close();
  return n / seconds;
}

async function bullmqRate(n: number, concurrency: number): Promise<{ perSec: number | null; note?: string }> {
  let bull: typeof import('bullmq');
  let Redis: typeof import('ioredis').Redis;
  try {
    bull = await import('bullmq');
    Redis = (await import('ioredis')).Redis;
  } catch (err) {
    return { perSec: null, note: `bullmq / ioredis not installed (${(err as Error).message})` };
  }
  const name = `warren-bench-${randomUUID().slice(0, 8)}`;
  // BullMQ wants a client instance under native ESM; workers need maxRetriesPerRequest: null.
  const connection = new Redis({ ...REDIS, maxRetriesPerRequest: null, lazyConnect: true });
  try {
    await Promise.race([connection.connect(), sleep(3_000).then(() => Promise.reject(new Error('timeout')))]);
  } catch (err) {
    connection.disconnect();
    return { perSec: null, note: `no Redis at ${REDIS.host}:${REDIS.port} (${(err as Error).message})` };
  }
  const queue = new bull.Queue(name, { connection });
  try {
    for (let i = 0; i < n; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ name: 'job', data: { type: 'bench', input: { i: i + j } }, opts: { removeOnComplete: true, removeOnFail: true } })));
    }
    const t0 = performance.now();
    let done = 0;
    let worker: InstanceType<typeof bull.Worker> | undefined;
    await new Promise<void>((resolve) => {
      // The same trivial work as echo-task: echo the input back.
      worker = new bull.Worker(name, async (job) => ({ type: (job.data as { type: string }).type, echo: (job.data as { input: unknown }).input }), { connection, concurrency });
      worker.on('completed', () => {
        if (++done === n) resolve();
      });
    });
    const perSec = n / ((performance.now() - t0) / 1000);
    await worker?.close();
    return { perSec };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
  }
}

function benchTopology(vhost: string, llmUrl: string, pacedUrl: string, rpm: number): Topology {
  const dlq = { exchange: 'dlx', routingKey: 'dead' };
  const quorum = { type: 'quorum', deadLetter: dlq, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish' };
  return topologySchema.parse({
    version: 1,
    connection: { urls: [AMQP_BASE], management: MANAGEMENT_URL, vhost },
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' }, results: { type: 'fanout' } },
    queues: {
      'bench.instant': quorum,
      'bench.llm': { ...quorum, retry: 'r' },
      'bench.paced': { ...quorum, retry: 'r' },
      'bench.mem': { type: 'classic', deadLetter: dlq },
      dead: { type: 'quorum' },
      // Results land in a stream, as in the shipped topology (llm.results -> llm.results.log).
      'bench.results': { type: 'stream', retention: { maxAge: '1h' } },
    },
    bindings: [
      { source: 'jobs', queue: 'bench.instant', routingKey: 'instant' },
      { source: 'jobs', queue: 'bench.llm', routingKey: 'llm' },
      { source: 'jobs', queue: 'bench.paced', routingKey: 'paced' },
      { source: 'jobs', queue: 'bench.mem', routingKey: 'mem' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
      { source: 'results', queue: 'bench.results' },
    ],
    retryPolicies: { r: { attempts: 3, backoff: ['1s'] } },
    routes: {
      task: { exchange: 'jobs', routingKey: 'instant', schema: 'task' },
      llm: { exchange: 'jobs', routingKey: 'llm', schema: 'chat-completion' },
      paced: { exchange: 'jobs', routingKey: 'paced', schema: 'chat-completion' },
      mem: { exchange: 'jobs', routingKey: 'mem', schema: 'chat-completion' },
    },
    providers: {
      fake: { baseURL: llmUrl, timeout: '60s' },
      paced: { baseURL: pacedUrl, timeout: '30s', limits: { rpm } },
    },
    consumers: {
      instant: { queue: 'bench.instant', handler: 'echo-task', route: 'task', prefetch: 200 },
      llm: { queue: 'bench.llm', handler: 'chat-completion', route: 'llm', provider: 'fake', prefetch: 200, timeout: '30s', results: { exchange: 'results' } },
      paced: { queue: 'bench.paced', handler: 'chat-completion', route: 'paced', provider: 'paced', prefetch: 100, timeout: '30s', results: { exchange: 'results' } },
      mem: { queue: 'bench.mem', handler: 'chat-completion', route: 'mem', provider: 'fake', prefetch: 1000, timeout: '60s' },
    },
  });
}

const chat = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 32 });

type Loaded = { topology: Topology; file: string; consumersDir: string };

/**
 * With WARREN_BENCH_CPU_PROF=<dir>, a V8 CPU profile (100 µs sampling) of each timed run in (a) is written
 * there as <side>-a-<round>.cpuprofile: the run only, not the prefill or the other side sharing this process.
 */
async function profileRun<T>(side: string, round: number, body: () => Promise<T>): Promise<T> {
  const dir = process.env.WARREN_BENCH_CPU_PROF;
  if (!dir) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${side}-a-${round}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** Process CPU time (user + system) in µs since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

/**
 * Part (a): bare loop, warren, BullMQ, same number of jobs and the same prefetch / concurrency.
 * One warm-up round (JIT, queue segments; reported, not counted), then `rounds` alternating rounds;
 * each side's median counts, and every run is kept in the result.
 */
async function instantHandler(url: string, loaded: Loaded, logger: Logger, jobs: number, rounds: number, prefetch: number, withBull: boolean): Promise<NonNullable<WorkerBenchResult['throughput']>> {
  const taskPayload = (i: number) => ({ type: 'bench', input: { i } });
  const bareRuns: number[] = [];
  const warrenRuns: number[] = [];
  const bullRuns: number[] = [];
  const bareCpu: number[] = [];
  const warrenCpu: number[] = [];
  const bareBroker: number[] = [];
  const warrenBroker: number[] = [];
  /** Broker CPU µs per job between `from` and now, or NaN where it can't be read. */
  const brokerUsSince = (from: number | undefined) => {
    const now = brokerCpuMs();
    return from === undefined || now === undefined ? Number.NaN : ((now - from) * 1000) / jobs;
  };
  let warmup: { warren: number; bare: number; bullmq: number | null } = { warren: 0, bare: 0, bullmq: null };
  let bullNote: string | undefined = withBull ? undefined : 'left out (--no-bullmq)';
  for (let round = 0; round <= rounds; round++) {
    await prefill(url, 'jobs', 'instant', 'task', jobs, taskPayload);
    const { bareRun, bareUs, bareBrokerUs } = await profileRun('bare', round, async () => {
      const cpu = process.cpuUsage();
      const broker = brokerCpuMs();
      const perSec = await bareConsume(url, 'bench.instant', jobs, prefetch);
      return { bareRun: perSec, bareUs: cpuSince(cpu) / jobs, bareBrokerUs: brokerUsSince(broker) };
    });
    await prefill(url, 'jobs', 'instant', 'task', jobs, taskPayload);
    // startWorker resolves at the consumer's consume-ok: timed from there to the last job, like the bare loop.
    // (The CPU figure includes the worker's start and close on top of the run itself.)
    const { warrenRun, warrenUs, warrenBrokerUs } = await profileRun('warren', round, async () => {
      const cpu = process.cpuUsage();
      const broker = brokerCpuMs();
      const worker = await startWorker({ topology: loaded, logger, consumers: ['instant'], ...(BENCH_TRACER === undefined ? {} : { tracer: BENCH_TRACER }) });
      const t0 = performance.now();
      await waitSucceeded(worker, 'instant', jobs, t0, 300_000);
      const perSec = jobs / ((performance.now() - t0) / 1000);
      await worker.close(5_000);
      return { warrenRun: perSec, warrenUs: cpuSince(cpu) / jobs, warrenBrokerUs: brokerUsSince(broker) };
    });
    let bullPerSec: number | null = null;
    if (withBull) {
      const bull = await bullmqRate(jobs, prefetch);
      if (bull.perSec === null) bullNote = bull.note;
      bullPerSec = bull.perSec;
    }
    if (round === 0) {
      warmup = { warren: warrenRun, bare: bareRun, bullmq: bullPerSec };
      continue;
    }
    bareRuns.push(bareRun);
    warrenRuns.push(warrenRun);
    bareCpu.push(bareUs);
    warrenCpu.push(warrenUs);
    bareBroker.push(bareBrokerUs);
    warrenBroker.push(warrenBrokerUs);
    if (bullPerSec !== null) bullRuns.push(bullPerSec);
  }
  const barePerSec = median(bareRuns);
  const warrenPerSec = median(warrenRuns);
  const bullmqPerSec = bullRuns.length > 0 ? median(bullRuns) : null;
  return {
    jobs,
    prefetch,
    warrenPerSec,
    barePerSec,
    bullmqPerSec,
    ...(bullNote === undefined || bullmqPerSec !== null ? {} : { bullmqNote: bullNote }),
    warrenVsBarePct: (warrenPerSec / barePerSec) * 100,
    warrenVsBullmq: bullmqPerSec === null ? null : warrenPerSec / bullmqPerSec,
    runs: { warren: warrenRuns, bare: bareRuns, bullmq: bullRuns },
    warmup,
    cpuUsPerJob: { warren: median(warrenCpu), bare: median(bareCpu), runs: { warren: warrenCpu, bare: bareCpu } },
    brokerCpuUsPerJob: [...bareBroker, ...warrenBroker].some(Number.isNaN) ? null : { warren: median(warrenBroker), bare: median(bareBroker) },
  };
}

/**
 * Part (b): 500 ms LLM latency, prefetch 200: Little's law bound 400 jobs/s. Three runs, each followed by the
 * same calls straight through the SDK (what this machine allows without warren); medians count.
 */
async function llmLatency(url: string, loaded: Loaded, logger: Logger, llmUrl: string, llmJobs: number, llmRounds: number, prefetch: number, latencyMs: number): Promise<NonNullable<WorkerBenchResult['llm']>> {
  const boundPerSec = prefetch / (latencyMs / 1000);
  const llmRuns: { perSec: number; steadyPerSec: number; sdkOnlyPerSec: number }[] = [];
  for (let round = 0; round < llmRounds; round++) {
    await prefill(url, 'jobs', 'llm', 'llm', llmJobs, (i) => chat(`summarise item ${i}`));
    const worker = await startWorker({ topology: loaded, logger, consumers: ['llm'] });
    const t0 = performance.now();
    const timeline = await waitSucceeded(worker, 'llm', llmJobs, t0, 300_000);
    const seconds = (performance.now() - t0) / 1000;
    await worker.close(5_000);
    // Sustained: from 2 s in (ramp-up) to 1 s before the end (the last wave draining).
    const from = timeline.find(([ms]) => ms >= 2_000) ?? timeline[0]!;
    const to = [...timeline].reverse().find(([ms]) => ms <= (timeline[timeline.length - 1]?.[0] ?? 0) - 1_000) ?? timeline[timeline.length - 1]!;
    llmRuns.push({ perSec: llmJobs / seconds, steadyPerSec: (to[1] - from[1]) / ((to[0] - from[0]) / 1000), sdkOnlyPerSec: await sdkLoop(llmUrl, llmJobs, prefetch) });
  }
  const steadyPerSec = median(llmRuns.map((r) => r.steadyPerSec));
  const perSec = median(llmRuns.map((r) => r.perSec));
  return {
    jobs: llmJobs,
    latencyMs,
    prefetch,
    perSec,
    steadyPerSec,
    boundPerSec,
    pct: (perSec / boundPerSec) * 100,
    steadyPct: (steadyPerSec / boundPerSec) * 100,
    sdkOnlyPerSec: median(llmRuns.map((r) => r.sdkOnlyPerSec)),
    runs: llmRuns,
  };
}

/** Part (c): 1,200 per window against a fake enforcing 1,200 per window; count calls finished one window after the start. */
async function rateLimit(url: string, vhost: string, loaded: Loaded, logger: Logger, management: ReturnType<typeof createManagementClient>, pacedFake: { stop(): Promise<Record<string, unknown>> }, budget: number, windowMs: number): Promise<NonNullable<WorkerBenchResult['rateLimit']>> {
  await prefill(url, 'jobs', 'paced', 'paced', Math.ceil(budget * 1.3), (i) => chat(`paced ${i}`));
  const worker = await startWorker({ topology: loaded, logger, consumers: ['paced'], rateLimitWindowMs: windowMs });
  await sleep(windowMs + 100); // + the fake's 100 ms latency: calls started within the window have finished
  const completedInWindow = (await worker.metrics.llmLatency.get()).values.filter((v) => v.metricName?.endsWith('_count') && v.labels.status === '200').reduce((a, v) => a + v.value, 0);
  const worker429s = (await worker.metrics.llmLatency.get()).values.filter((v) => v.metricName?.endsWith('_count') && v.labels.status === '429').reduce((a, v) => a + v.value, 0);
  await worker.close(2_000);
  await management.delete(`/queues/${seg(vhost)}/${seg('bench.paced')}/contents`);
  const pacedStats = await pacedFake.stop();
  return {
    budget,
    windowMs,
    completedInWindow,
    achievedPct: (completedInWindow / budget) * 100,
    worker429s,
    fakeRejected: Number(pacedStats.rpmRejected ?? Number.NaN),
    scaled: windowMs !== 60_000,
  };
}

/** The figures of the parts that ran, each beside its reference. */
function figuresOf(r: Pick<WorkerBenchResult, 'throughput' | 'llm' | 'rateLimit' | 'memory'>): BenchFigure[] {
  const figures: BenchFigure[] = [];
  const t = r.throughput;
  if (t) {
    figures.push({ group: 'worker', name: 'instant handler, quorum queue', unit: 'jobs/s', value: t.warrenPerSec, reference: t.barePerSec, referenceName: 'bare amqplib consume + ack', target: '>= 70% of reference', pass: t.warrenVsBarePct >= 70 });
    if (t.bullmqPerSec !== null) {
      figures.push({ group: 'worker', name: 'instant handler vs BullMQ', unit: 'jobs/s', value: t.warrenPerSec, reference: t.bullmqPerSec, referenceName: 'BullMQ worker, local Redis', target: '>= 2x reference', pass: t.warrenPerSec >= 2 * t.bullmqPerSec });
    }
  }
  const llm = r.llm;
  if (llm) {
    figures.push(
      {
        group: 'worker',
        name: `fake LLM ${llm.latencyMs} ms, prefetch ${llm.prefetch}, sustained`,
        unit: 'jobs/s',
        value: llm.steadyPerSec,
        reference: llm.boundPerSec,
        referenceName: "Little's law bound",
        referenceKind: 'constant',
        target: '>= 90% of reference',
        pass: llm.steadyPct >= 90,
      },
      { group: 'worker', name: `fake LLM ${llm.latencyMs} ms, whole run vs the SDK alone`, unit: 'jobs/s', value: llm.perSec, reference: llm.sdkOnlyPerSec, referenceName: 'openai SDK loop, no broker', target: 'informational', pass: true },
    );
  }
  const rl = r.rateLimit;
  if (rl) {
    figures.push({
      group: 'worker',
      name: `rate limit ${rl.budget} per ${rl.windowMs / 1000} s`,
      unit: `calls per ${rl.windowMs / 1000} s`,
      value: rl.completedInWindow,
      reference: rl.budget,
      referenceName: 'budget',
      referenceKind: 'constant',
      target: '95-100% of budget, zero 429s',
      pass: rl.achievedPct >= 95 && rl.achievedPct <= 100 && rl.worker429s === 0 && rl.fakeRejected === 0,
    });
  }
  const memory = r.memory;
  if (memory) {
    figures.push({ group: 'worker', name: `RSS with ${memory.inFlight} jobs in flight`, unit: 'MB', value: memory.rssMb, reference: 250, referenceName: 'limit', referenceKind: 'constant', target: '< 250 MB', pass: memory.rssMb < 250 && memory.inFlight >= 1000, higherIsBetter: false });
  }
  return figures;
}

/** Runs the four parts (or those in `options.parts`) and returns their figures. */
export async function run(options: WorkerBenchOptions = {}): Promise<WorkerBenchResult> {
  const quick = options.quick ?? false;
  const parts = new Set<BenchPart>(options.parts ?? ['a', 'b', 'c', 'd']);
  const jobs = options.jobs ?? (quick ? 10_000 : 20_000);
  const llmJobs = options.llmJobs ?? (quick ? 3_000 : 5_000);
  const llmRounds = quick ? 1 : 3;
  const windowMs = options.rateWindowMs ?? (quick ? 6_000 : 60_000);
  const budget = 1_200;
  const prefetch = 200;
  const latencyMs = 500;
  const rounds = options.rounds ?? (quick ? 3 : 5);

  const management = createManagementClient({ url: MANAGEMENT_URL });
  const vhost = `warren-bench-worker-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const url = `${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`;
  const llmFake = await spawnFake(['--latency', String(latencyMs)]);
  const pacedFake = await spawnFake(['--latency', '100', '--rpm', String(budget), '--rpm-window', String(windowMs)]);
  const logger = createSilentLogger();
  try {
    const topology = benchTopology(vhost, llmFake.url, pacedFake.url, budget);
    await ensureTopology(topology, management);
    const loaded: Loaded = { topology, file: join(ROOT, 'topology.yaml'), consumersDir: CONSUMERS_DIR };
    // Compile and load the handlers before anything is timed (tsx compiles on first import).
    await import(pathToFileURL(join(CONSUMERS_DIR, 'echo-task.ts')).href);
    await import(pathToFileURL(join(CONSUMERS_DIR, 'chat-completion.ts')).href);

    const throughput = parts.has('a') ? await instantHandler(url, loaded, logger, jobs, rounds, prefetch, options.bullmq ?? true) : null;
    const llm = parts.has('b') ? await llmLatency(url, loaded, logger, llmFake.url, llmJobs, llmRounds, prefetch, latencyMs) : null;
    const rateLimitResult = parts.has('c') ? await rateLimit(url, vhost, loaded, logger, management, pacedFake, budget, windowMs) : null;
    // (d) RSS of a worker process holding 1,000 jobs in flight (each call answers after 60 s).
    const memory = parts.has('d') ? await measureMemory(topology, url) : null;
    const figures = figuresOf({ throughput, llm, rateLimit: rateLimitResult, memory });
    return { bench: 'worker', throughput, llm, rateLimit: rateLimitResult, memory, figures, pass: figures.every((f) => f.pass) };
  } finally {
    await llmFake.stop().catch(() => undefined);
    if (pacedFake.child.exitCode === null) await pacedFake.stop().catch(() => undefined);
    await deleteVhostWithEventKey(management, vhost).catch((err: unknown) => {
      console.error(`warning: could not delete vhost ${vhost}: ${(err as Error).message}`);
    });
  }
}

/** Part (d): a separate worker process (the kill-test fixture) consuming 1,000 jobs whose LLM calls take 60 s. */
async function measureMemory(topology: Topology, url: string): Promise<{ inFlight: number; rssMb: number; heapUsedMb: number }> {
  const n = 1_000;
  await prefill(url, 'jobs', 'mem', 'mem', n, (i) => chat(`[[delay:60000]] hold ${i}`));
  const file = join(tmpdir(), `warren-bench-topology-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(topology));
  const fixture = join(ROOT, 'test', 'integration', 'fixtures', 'worker-process.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, file, '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WORKER_METRICS_PORT: '0', WORKER_CONSUMERS: 'mem', WARREN_LOG_LEVEL: 'error' },
  });
  try {
    const metricsUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`worker process not ready: ${out}`)), 30_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready (\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    });
    const read = async (): Promise<{ inFlight: number; rss: number; heap: number }> => {
      const text = await (await fetch(metricsUrl)).text();
      const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
      return {
        inFlight: num(/^warren_jobs_in_flight\{consumer="mem"\} (\d+)/m),
        rss: num(/^warren_worker_process_resident_memory_bytes (\d+)/m),
        heap: num(/^warren_worker_nodejs_heap_size_used_bytes (\d+)/m),
      };
    };
    const deadline = Date.now() + 30_000;
    let s = await read();
    while (s.inFlight < n && Date.now() < deadline) {
      await sleep(200);
      s = await read();
    }
    // Sample a few times while all of them are in flight; keep the highest.
    let rss = s.rss;
    let heap = s.heap;
    for (let i = 0; i < 5; i++) {
      await sleep(400);
      const x = await read();
      rss = Math.max(rss, x.rss);
      heap = Math.max(heap, x.heap);
    }
    return { inFlight: s.inFlight, rssMb: rss / 2 ** 20, heapUsedMb: heap / 2 ** 20 };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    rmSync(file, { force: true });
  }
}

/** One JSON line and a human summary, each figure beside its reference. */
export function report(r: WorkerBenchResult): string {
  const f = (n: number) => (Math.round(n * 10) / 10).toLocaleString('en-US');
  const lines = [JSON.stringify(r), `worker bench`];
  const t = r.throughput;
  if (t) {
    lines.push(
      `  (a) instant handler, quorum queue, ${t.jobs} jobs, prefetch ${t.prefetch}, median of ${t.runs.warren.length} alternating runs after a warm-up:`,
      `      warren ${f(t.warrenPerSec)} jobs/s | bare amqplib ${f(t.barePerSec)} jobs/s -> ${f(t.warrenVsBarePct)}% (target >= 70%)`,
      `      CPU per job (this process): warren ${f(t.cpuUsPerJob.warren)} µs | bare ${f(t.cpuUsPerJob.bare)} µs`,
      `      broker CPU per job: ${t.brokerCpuUsPerJob === null ? 'n/a (no local broker)' : `warren ${f(t.brokerCpuUsPerJob.warren)} µs | bare ${f(t.brokerCpuUsPerJob.bare)} µs`}`,
      `      runs: warren ${t.runs.warren.map(f).join(' / ')}; bare ${t.runs.bare.map(f).join(' / ')}; BullMQ ${t.runs.bullmq.map(f).join(' / ') || 'n/a'}`,
      `      CPU µs/job runs: warren ${t.cpuUsPerJob.runs.warren.map(f).join(' / ')}; bare ${t.cpuUsPerJob.runs.bare.map(f).join(' / ')}`,
      `      warm-up (not counted): warren ${f(t.warmup.warren)}, bare ${f(t.warmup.bare)}, BullMQ ${t.warmup.bullmq === null ? 'n/a' : f(t.warmup.bullmq)}`,
      `      BullMQ ${t.bullmqPerSec === null ? `n/a (${t.bullmqNote})` : `${f(t.bullmqPerSec)} jobs/s -> warren ${f(t.warrenVsBullmq ?? 0)}x (target >= 2x)`}`,
    );
  } else lines.push('  (a) skipped');
  const llm = r.llm;
  if (llm) {
    lines.push(
      `  (b) fake LLM ${llm.latencyMs} ms, prefetch ${llm.prefetch}, ${llm.jobs} jobs, median of ${llm.runs.length}: sustained ${f(llm.steadyPerSec)} jobs/s | bound ${llm.boundPerSec} -> ${f(llm.steadyPct)}% (target >= 90%); whole run incl. ramp-up and tail ${f(llm.perSec)} jobs/s (${f(llm.pct)}%)`,
      `      same calls through the SDK alone, ${llm.prefetch} at a time, no broker: ${f(llm.sdkOnlyPerSec)} calls/s`,
      `      runs (sustained / whole run / SDK alone): ${llm.runs.map((x) => `${f(x.steadyPerSec)} / ${f(x.perSec)} / ${f(x.sdkOnlyPerSec)}`).join('; ')}`,
    );
  } else lines.push('  (b) skipped');
  const rl = r.rateLimit;
  if (rl) {
    lines.push(
      `  (c) budget ${rl.budget} per ${rl.windowMs / 1000} s${rl.scaled ? ' (window scaled down)' : ''}: ${rl.completedInWindow} calls in one window -> ${f(rl.achievedPct)}% (target 95-100%), 429s seen by worker ${rl.worker429s}, rejected by fake ${rl.fakeRejected}`,
    );
  } else lines.push('  (c) skipped');
  const m = r.memory;
  if (m) lines.push(`  (d) ${m.inFlight} jobs in flight: RSS ${f(m.rssMb)} MB, heap used ${f(m.heapUsedMb)} MB (target < 250 MB)`);
  else lines.push('  (d) skipped');
  lines.push(`  ${r.pass ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}

/** Command-line options: `--quick`, `--only a,b`, `--no-bullmq`; WARREN_BENCH_JOBS / WARREN_BENCH_ROUNDS for (a). */
function parseArgs(argv: readonly string[]): WorkerBenchOptions {
  const i = argv.indexOf('--only');
  const parts = i >= 0 ? (argv[i + 1] ?? '').split(',').map((x) => x.trim()) : undefined;
  const bad = parts?.filter((x) => !['a', 'b', 'c', 'd'].includes(x)) ?? [];
  if (parts?.length === 0 || bad.length > 0) throw new Error(`--only takes parts a, b, c, d (comma-separated), not '${argv[i + 1] ?? ''}'`);
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const jobs = num('WARREN_BENCH_JOBS');
  const rounds = num('WARREN_BENCH_ROUNDS');
  return {
    quick: argv.includes('--quick'),
    ...(parts ? { parts: parts as BenchPart[] } : {}),
    ...(argv.includes('--no-bullmq') ? { bullmq: false } : {}),
    ...(jobs === undefined ? {} : { jobs }),
    ...(rounds === undefined ? {} : { rounds }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run(parseArgs(process.argv.slice(2)));
  console.log(report(result));
  process.exitCode = result.pass ? 0 : 1;
}
