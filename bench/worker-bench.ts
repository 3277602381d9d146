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
 * Run: node --import tsx bench/worker-bench.ts [--quick]
 *   --quick scales the rate-limit window from 60 s down to 6 s (same budget per
 *   window, same algorithm) and uses fewer jobs; the report says which ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { topologySchema, type Topology } from '../src/config/topology-schema.ts';
import { HEADERS } from '../src/jobs/headers.ts';
import { createOpenAiClient } from '../src/llm/openai-clients.ts';
import { createSilentLogger } from '../src/observability/logger.ts';
import { ensureTopology } from '../src/topology/ensure-topology.ts';
import { startWorker, type Worker } from '../src/worker/start-worker.ts';
import type { BenchFigure } from './figures.ts';

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
}

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
  };
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
  };
  rateLimit: { budget: number; windowMs: number; completedInWindow: number; achievedPct: number; worker429s: number; fakeRejected: number; scaled: boolean };
  memory: { inFlight: number; rssMb: number; heapUsedMb: number };
  figures: BenchFigure[];
  pass: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** Runs the four parts and returns their figures. */
export async function run(options: WorkerBenchOptions = {}): Promise<WorkerBenchResult> {
  const quick = options.quick ?? false;
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
    const loaded = { topology, file: join(ROOT, 'topology.yaml'), consumersDir: CONSUMERS_DIR };
    const taskPayload = (i: number) => ({ type: 'bench', input: { i } });
    // Compile and load the handlers before anything is timed (tsx compiles on first import).
    await import(pathToFileURL(join(CONSUMERS_DIR, 'echo-task.ts')).href);
    await import(pathToFileURL(join(CONSUMERS_DIR, 'chat-completion.ts')).href);

    // (a) instant handler: bare loop, warren, BullMQ, same number of jobs and the same prefetch / concurrency.
    // One warm-up round (JIT, queue segments; reported, not counted), then `rounds` alternating rounds;
    // each side's median counts, and every run is kept in the result.
    const bareRuns: number[] = [];
    const warrenRuns: number[] = [];
    const bullRuns: number[] = [];
    let warmup: { warren: number; bare: number; bullmq: number | null } = { warren: 0, bare: 0, bullmq: null };
    let bullNote: string | undefined;
    let t0 = 0;
    let worker: Worker;
    for (let round = 0; round <= rounds; round++) {
      await prefill(url, 'jobs', 'instant', 'task', jobs, taskPayload);
      const bareRun = await bareConsume(url, 'bench.instant', jobs, prefetch);
      await prefill(url, 'jobs', 'instant', 'task', jobs, taskPayload);
      // startWorker resolves at the consumer's consume-ok: timed from there to the last job, like the bare loop.
      worker = await startWorker({ topology: loaded, logger, consumers: ['instant'] });
      t0 = performance.now();
      await waitSucceeded(worker, 'instant', jobs, t0, 300_000);
      const warrenRun = jobs / ((performance.now() - t0) / 1000);
      await worker.close(5_000);
      const bull = await bullmqRate(jobs, prefetch);
      if (bull.perSec === null) bullNote = bull.note;
      if (round === 0) {
        warmup = { warren: warrenRun, bare: bareRun, bullmq: bull.perSec };
        continue;
      }
      bareRuns.push(bareRun);
      warrenRuns.push(warrenRun);
      if (bull.perSec !== null) bullRuns.push(bull.perSec);
    }
    const barePerSec = median(bareRuns);
    const warrenPerSec = median(warrenRuns);
    const bull = { perSec: bullRuns.length > 0 ? median(bullRuns) : null, note: bullNote };

    // (b) 500 ms LLM latency, prefetch 200: Little's law bound 400 jobs/s. Three runs, each followed by the
    // same calls straight through the SDK (what this machine allows without warren); medians count.
    const boundPerSec = prefetch / (latencyMs / 1000);
    const llmRuns: { perSec: number; steadyPerSec: number; sdkOnlyPerSec: number }[] = [];
    for (let round = 0; round < llmRounds; round++) {
      await prefill(url, 'jobs', 'llm', 'llm', llmJobs, (i) => chat(`summarise item ${i}`));
      worker = await startWorker({ topology: loaded, logger, consumers: ['llm'] });
      t0 = performance.now();
      const timeline = await waitSucceeded(worker, 'llm', llmJobs, t0, 300_000);
      const seconds = (performance.now() - t0) / 1000;
      await worker.close(5_000);
      // Sustained: from 2 s in (ramp-up) to 1 s before the end (the last wave draining).
      const from = timeline.find(([ms]) => ms >= 2_000) ?? timeline[0]!;
      const to = [...timeline].reverse().find(([ms]) => ms <= (timeline[timeline.length - 1]?.[0] ?? 0) - 1_000) ?? timeline[timeline.length - 1]!;
      llmRuns.push({ perSec: llmJobs / seconds, steadyPerSec: (to[1] - from[1]) / ((to[0] - from[0]) / 1000), sdkOnlyPerSec: await sdkLoop(llmFake.url, llmJobs, prefetch) });
    }
    const steadyPerSec = median(llmRuns.map((r) => r.steadyPerSec));
    const llmPerSec = median(llmRuns.map((r) => r.perSec));
    const sdkOnlyPerSec = median(llmRuns.map((r) => r.sdkOnlyPerSec));

    // (c) 1,200 per window against a fake enforcing 1,200 per window; count calls finished one window after the start.
    await prefill(url, 'jobs', 'paced', 'paced', Math.ceil(budget * 1.3), (i) => chat(`paced ${i}`));
    worker = await startWorker({ topology: loaded, logger, consumers: ['paced'], rateLimitWindowMs: windowMs });
    t0 = performance.now();
    await sleep(windowMs + 100); // + the fake's 100 ms latency: calls started within the window have finished
    const completedInWindow = (await worker.metrics.llmLatency.get()).values.filter((v) => v.metricName?.endsWith('_count') && v.labels.status === '200').reduce((a, v) => a + v.value, 0);
    const worker429s = (await worker.metrics.llmLatency.get()).values.filter((v) => v.metricName?.endsWith('_count') && v.labels.status === '429').reduce((a, v) => a + v.value, 0);
    await worker.close(2_000);
    await management.delete(`/queues/${seg(vhost)}/${seg('bench.paced')}/contents`);
    const pacedStats = await pacedFake.stop();

    // (d) RSS of a worker process holding 1,000 jobs in flight (each call answers after 60 s).
    const memory = await measureMemory(topology, url);

    const throughput = {
      jobs,
      prefetch,
      warrenPerSec,
      barePerSec,
      bullmqPerSec: bull.perSec,
      ...(bull.note === undefined || bull.perSec !== null ? {} : { bullmqNote: bull.note }),
      warrenVsBarePct: (warrenPerSec / barePerSec) * 100,
      warrenVsBullmq: bull.perSec === null ? null : warrenPerSec / bull.perSec,
      runs: { warren: warrenRuns, bare: bareRuns, bullmq: bullRuns },
      warmup,
    };
    const llm = {
      jobs: llmJobs,
      latencyMs,
      prefetch,
      perSec: llmPerSec,
      steadyPerSec,
      boundPerSec,
      pct: (llmPerSec / boundPerSec) * 100,
      steadyPct: (steadyPerSec / boundPerSec) * 100,
      sdkOnlyPerSec,
      runs: llmRuns,
    };
    const achievedPct = (completedInWindow / budget) * 100;
    const rateLimit = {
      budget,
      windowMs,
      completedInWindow,
      achievedPct,
      worker429s,
      fakeRejected: Number(pacedStats.rpmRejected ?? Number.NaN),
      scaled: windowMs !== 60_000,
    };
    const figures: BenchFigure[] = [
      { group: 'worker', name: 'instant handler, quorum queue', unit: 'jobs/s', value: warrenPerSec, reference: barePerSec, referenceName: 'bare amqplib consume + ack', target: '>= 70% of reference', pass: throughput.warrenVsBarePct >= 70 },
      ...(bull.perSec === null
        ? []
        : [{ group: 'worker', name: 'instant handler vs BullMQ', unit: 'jobs/s', value: warrenPerSec, reference: bull.perSec, referenceName: 'BullMQ worker, local Redis', target: '>= 2x reference', pass: warrenPerSec >= 2 * bull.perSec }]),
      {
        group: 'worker',
        name: `fake LLM ${latencyMs} ms, prefetch ${prefetch}, sustained`,
        unit: 'jobs/s',
        value: llm.steadyPerSec,
        reference: boundPerSec,
        referenceName: "Little's law bound",
        target: '>= 90% of reference',
        pass: llm.steadyPct >= 90,
      },
      { group: 'worker', name: `fake LLM ${latencyMs} ms, whole run vs the SDK alone`, unit: 'jobs/s', value: llm.perSec, reference: sdkOnlyPerSec, referenceName: 'openai SDK loop, no broker', target: 'informational', pass: true },
      {
        group: 'worker',
        name: `rate limit ${budget} per ${windowMs / 1000} s`,
        unit: `calls per ${windowMs / 1000} s`,
        value: completedInWindow,
        reference: budget,
        referenceName: 'budget',
        target: '95-100% of budget, zero 429s',
        pass: achievedPct >= 95 && achievedPct <= 100 && worker429s === 0 && rateLimit.fakeRejected === 0,
      },
      { group: 'worker', name: `RSS with ${memory.inFlight} jobs in flight`, unit: 'MB', value: memory.rssMb, reference: 250, referenceName: 'limit', target: '< 250 MB', pass: memory.rssMb < 250 && memory.inFlight >= 1000, higherIsBetter: false },
    ];
    return { bench: 'worker', throughput, llm, rateLimit, memory, figures, pass: figures.every((f) => f.pass) };
  } finally {
    await llmFake.stop().catch(() => undefined);
    if (pacedFake.child.exitCode === null) await pacedFake.stop().catch(() => undefined);
    await management.delete(`/vhosts/${seg(vhost)}`, { ignoreNotFound: true }).catch((err: unknown) => {
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
  const t = r.throughput;
  return [
    JSON.stringify(r),
    `worker bench`,
    `  (a) instant handler, quorum queue, ${t.jobs} jobs, prefetch ${t.prefetch}, median of ${t.runs.warren.length} alternating runs after a warm-up:`,
    `      warren ${f(t.warrenPerSec)} jobs/s | bare amqplib ${f(t.barePerSec)} jobs/s -> ${f(t.warrenVsBarePct)}% (target >= 70%)`,
    `      runs: warren ${t.runs.warren.map(f).join(' / ')}; bare ${t.runs.bare.map(f).join(' / ')}; BullMQ ${t.runs.bullmq.map(f).join(' / ') || 'n/a'}`,
    `      warm-up (not counted): warren ${f(t.warmup.warren)}, bare ${f(t.warmup.bare)}, BullMQ ${t.warmup.bullmq === null ? 'n/a' : f(t.warmup.bullmq)}`,
    `      BullMQ ${t.bullmqPerSec === null ? `n/a (${t.bullmqNote})` : `${f(t.bullmqPerSec)} jobs/s -> warren ${f(t.warrenVsBullmq ?? 0)}x (target >= 2x)`}`,
    `  (b) fake LLM ${r.llm.latencyMs} ms, prefetch ${r.llm.prefetch}, ${r.llm.jobs} jobs, median of ${r.llm.runs.length}: sustained ${f(r.llm.steadyPerSec)} jobs/s | bound ${r.llm.boundPerSec} -> ${f(r.llm.steadyPct)}% (target >= 90%); whole run incl. ramp-up and tail ${f(r.llm.perSec)} jobs/s (${f(r.llm.pct)}%)`,
    `      same calls through the SDK alone, ${r.llm.prefetch} at a time, no broker: ${f(r.llm.sdkOnlyPerSec)} calls/s`,
    `      runs (sustained / whole run / SDK alone): ${r.llm.runs.map((x) => `${f(x.steadyPerSec)} / ${f(x.perSec)} / ${f(x.sdkOnlyPerSec)}`).join('; ')}`,
    `  (c) budget ${r.rateLimit.budget} per ${r.rateLimit.windowMs / 1000} s${r.rateLimit.scaled ? ' (window scaled down)' : ''}: ${r.rateLimit.completedInWindow} calls in one window -> ${f(r.rateLimit.achievedPct)}% (target 95-100%), 429s seen by worker ${r.rateLimit.worker429s}, rejected by fake ${r.rateLimit.fakeRejected}`,
    `  (d) ${r.memory.inFlight} jobs in flight: RSS ${f(r.memory.rssMb)} MB, heap used ${f(r.memory.heapUsedMb)} MB (target < 250 MB)`,
    `  ${r.pass ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run({ quick: process.argv.includes('--quick') });
  console.log(report(result));
  process.exitCode = result.pass ? 0 : 1;
}
