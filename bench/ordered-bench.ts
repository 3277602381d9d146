/**
 * Ordered-route benchmark (issue #13, docs/ordered-routes.md), in its own vhost
 * (deleted afterwards), each figure beside its reference from the same run:
 *   (a) instant handler, 1,000 keys: an ordered queue of 8 partitions vs an
 *       unordered quorum queue, the same worker and consumer settings
 *       (prefetch 100; on the ordered queue that is per partition), alternating
 *       rounds after a warm-up, medians compared (target >= 50%);
 *   (b) the fake LLM (separate process) at 200 ms, 1,000 keys, 8 partitions x
 *       prefetch 10 = 80 handler slots: the sustained rate vs the Little's-law
 *       bound of 80 / 0.2 s = 400 jobs/s (target >= 80%), and an unordered
 *       queue with the same 80 slots beside it (informational).
 *       WARREN_BENCH_ORDERED_PREFETCH changes the slots per partition.
 * Run: node --import tsx bench/ordered-bench.ts [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { topologySchema, type Topology } from '../src/config/topology-schema.ts';
import { HEADERS, ORDER_HEADERS } from '../src/jobs/headers.ts';
import { createSilentLogger, type Logger } from '../src/observability/logger.ts';
import { ensureTopology } from '../src/topology/ensure-topology.ts';
import type { JobHandler } from '../src/worker/handler-contract.ts';
import { startWorker, type Worker } from '../src/worker/start-worker.ts';
import { percentOf, type BenchFigure } from './figures.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONSUMERS_DIR = join(ROOT, 'consumers');
const AMQP_BASE = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const KEYS = 1_000;
const PARTITIONS = 8;
/** Handler slots per partition in (b): 8 x 10 = 80, a Little's-law bound of 400 jobs/s at 200 ms (what one worker's LLM path sustains on the 2-core CI box). */
const LLM_PREFETCH = Number(process.env.WARREN_BENCH_ORDERED_PREFETCH ?? 10);

/** Figures of one run. */
export interface OrderedBenchResult {
  bench: 'ordered';
  instant: { jobs: number; orderedPerSec: number; plainPerSec: number; pct: number; runs: { ordered: number[]; plain: number[] } };
  llm: { jobs: number; latencyMs: number; slots: number; perSec: number; steadyPerSec: number; boundPerSec: number; steadyPct: number; unorderedSteadyPerSec: number };
  figures: BenchFigure[];
  pass: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

function benchTopology(vhost: string, llmUrl: string): Topology {
  const dlq = { exchange: 'dlx', routingKey: 'dead' };
  const quorum = { type: 'quorum', deadLetter: dlq, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish' };
  return topologySchema.parse({
    version: 1,
    connection: { urls: [AMQP_BASE], management: MANAGEMENT_URL, vhost },
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: {
      plain: quorum,
      ordered: { ...quorum, ordering: { key: '{input.key}', partitions: PARTITIONS } },
      'ordered.llm': { ...quorum, ordering: { key: '{metadata.key}', partitions: PARTITIONS } },
      'plain.llm': quorum,
      dead: { type: 'quorum' },
    },
    bindings: [
      { source: 'jobs', queue: 'plain', routingKey: 'plain' },
      { source: 'jobs', queue: 'ordered', routingKey: 'ordered' },
      { source: 'jobs', queue: 'ordered.llm', routingKey: 'llm' },
      { source: 'jobs', queue: 'plain.llm', routingKey: 'llm-plain' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    routes: {
      plain: { exchange: 'jobs', routingKey: 'plain', schema: 'task' },
      ordered: { exchange: 'jobs', routingKey: 'ordered', schema: 'task' },
      llm: { exchange: 'jobs', routingKey: 'llm', schema: 'chat-completion' },
      'llm-plain': { exchange: 'jobs', routingKey: 'llm-plain', schema: 'chat-completion' },
    },
    providers: { fake: { baseURL: llmUrl, timeout: '60s' } },
    consumers: {
      plain: { queue: 'plain', handler: 'echo-task', route: 'plain', prefetch: 100 },
      ordered: { queue: 'ordered', handler: 'echo-task', route: 'ordered', prefetch: 100 },
      llm: { queue: 'ordered.llm', handler: 'chat-completion', route: 'llm', provider: 'fake', prefetch: LLM_PREFETCH, timeout: '30s' },
      'llm-plain': { queue: 'plain.llm', handler: 'chat-completion', route: 'llm-plain', provider: 'fake', prefetch: PARTITIONS * LLM_PREFETCH, timeout: '30s' },
    },
  });
}

/** Publishes `n` jobs as the API does, with the ordering key header when `ordered`; job i belongs to key i % 1,000. */
async function prefill(url: string, routingKey: string, route: string, n: number, ordered: boolean, payload: (i: number, key: string) => unknown): Promise<void> {
  const conn = await amqplib.connect(url);
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < n; i++) {
    const key = `key-${i % KEYS}`;
    const headers: Record<string, unknown> = { [HEADERS.route]: route };
    if (ordered) headers[ORDER_HEADERS.key] = `bench/${key}`;
    ch.publish('jobs', routingKey, Buffer.from(JSON.stringify(payload(i, key))), { persistent: true, messageId: randomUUID(), contentType: 'application/json', headers });
    if (i % 500 === 499) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function succeeded(worker: Worker, consumer: string): Promise<number> {
  const m = await worker.metrics.jobs.get();
  return m.values.filter((v) => v.labels.consumer === consumer && v.labels.outcome === 'succeeded').reduce((a, v) => a + v.value, 0);
}

/** Starts a worker on one consumer and times it through `n` prefilled jobs; returns the timeline. */
async function drain(loaded: { topology: Topology; file: string; consumersDir: string }, logger: Logger, consumer: string, n: number, handlers?: Record<string, JobHandler>): Promise<{ seconds: number; timeline: [number, number][] }> {
  const worker = await startWorker({ topology: loaded, logger, consumers: [consumer], ...(handlers ? { handlers } : {}) });
  const t0 = performance.now();
  const timeline: [number, number][] = [];
  const deadline = t0 + 300_000;
  for (;;) {
    const c = await succeeded(worker, consumer);
    timeline.push([performance.now() - t0, c]);
    if (c >= n) break;
    if (performance.now() > deadline) throw new Error(`only ${c}/${n} jobs of '${consumer}' succeeded in time`);
    await sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  await worker.close(5_000);
  return { seconds, timeline };
}

/** Starts bin/fake-llm.js in its own process (its CPU is not the worker's). */
async function spawnFake(args: string[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
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
    },
  };
}

/** Runs the benchmark (see the top of this file). */
export async function run(options: { quick?: boolean } = {}): Promise<OrderedBenchResult> {
  const quick = options.quick ?? false;
  const jobs = quick ? 5_000 : 20_000;
  const rounds = quick ? 1 : 3;
  const llmJobs = quick ? 4_000 : 10_000;
  const latencyMs = 200;
  const management = createManagementClient({ url: MANAGEMENT_URL });
  const vhost = `warren-bench-ordered-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const url = `${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`;
  const fake = await spawnFake(['--latency', String(latencyMs)]);
  const logger = createSilentLogger();
  try {
    const topology = benchTopology(vhost, fake.url);
    await ensureTopology(topology, management);
    const loaded = { topology, file: join(ROOT, 'topology.yaml'), consumersDir: CONSUMERS_DIR };
    await import(pathToFileURL(join(CONSUMERS_DIR, 'echo-task.ts')).href);
    await import(pathToFileURL(join(CONSUMERS_DIR, 'chat-completion.ts')).href);
    // An instant handler: what is measured is warren's own path (lanes, settle, acks), not the work.
    const instant: JobHandler = async () => ({ ok: true });
    const task = (_i: number, key: string) => ({ type: 'bench', input: { key } });

    // (a) alternating rounds after a warm-up of each.
    const runs = { ordered: [] as number[], plain: [] as number[] };
    for (let round = 0; round <= rounds; round++) {
      for (const side of ['plain', 'ordered'] as const) {
        await prefill(url, side, side, jobs, side === 'ordered', task);
        const { seconds } = await drain(loaded, logger, side, jobs, { 'echo-task': instant });
        if (round > 0) runs[side].push(jobs / seconds);
        process.stderr.write(`ordered bench (a) ${round === 0 ? 'warm-up' : `round ${round}`} ${side}: ${Math.round(jobs / seconds)} jobs/s\n`);
      }
    }
    const orderedPerSec = median(runs.ordered);
    const plainPerSec = median(runs.plain);

    // (b) 200 ms LLM calls over PARTITIONS x LLM_PREFETCH slots; the unordered queue with the same slots beside it.
    const slots = PARTITIONS * LLM_PREFETCH;
    const chatJob = (i: number, key: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `item ${i}` }], max_tokens: 16, metadata: { key } });
    const sustained = (timeline: [number, number][]) => {
      const from = timeline.find(([ms]) => ms >= 2_000) ?? timeline[0]!;
      const last = timeline[timeline.length - 1]!;
      const to = [...timeline].reverse().find(([ms]) => ms <= last[0] - 1_000) ?? last;
      return (to[1] - from[1]) / ((to[0] - from[0]) / 1000);
    };
    await prefill(url, 'llm-plain', 'llm-plain', llmJobs, false, chatJob);
    const plainLlm = sustained((await drain(loaded, logger, 'llm-plain', llmJobs)).timeline);
    await prefill(url, 'llm', 'llm', llmJobs, true, chatJob);
    const { seconds, timeline } = await drain(loaded, logger, 'llm', llmJobs);
    const steadyPerSec = sustained(timeline);
    const boundPerSec = slots / (latencyMs / 1000);
    process.stderr.write(`ordered bench (b): ${Math.round(llmJobs / seconds)} jobs/s whole run, ${Math.round(steadyPerSec)} sustained, bound ${boundPerSec}; unordered, same slots: ${Math.round(plainLlm)}\n`);

    const instantPct = percentOf(orderedPerSec, plainPerSec);
    const steadyPct = percentOf(steadyPerSec, boundPerSec);
    const figures: BenchFigure[] = [
      {
        group: 'ordered',
        name: `instant handler, ${PARTITIONS} partitions x ${KEYS} keys`,
        unit: 'jobs/s',
        value: Math.round(orderedPerSec),
        reference: Math.round(plainPerSec),
        referenceName: 'same worker, unordered quorum queue',
        target: '>= 50% of reference',
        pass: instantPct >= 50,
      },
      {
        group: 'ordered',
        name: `fake LLM ${latencyMs} ms, ${KEYS} keys, ${PARTITIONS} x ${LLM_PREFETCH} slots, sustained`,
        unit: 'jobs/s',
        value: Math.round(steadyPerSec),
        reference: boundPerSec,
        referenceName: "Little's law bound",
        referenceKind: 'constant',
        target: '>= 80% of reference',
        pass: steadyPct >= 80,
      },
      {
        group: 'ordered',
        name: `fake LLM ${latencyMs} ms, unordered quorum queue, ${slots} slots, sustained`,
        unit: 'jobs/s',
        value: Math.round(plainLlm),
        reference: boundPerSec,
        referenceName: "Little's law bound",
        referenceKind: 'constant',
        target: 'informational',
        pass: true,
      },
    ];
    return {
      bench: 'ordered',
      instant: { jobs, orderedPerSec, plainPerSec, pct: instantPct, runs },
      llm: { jobs: llmJobs, latencyMs, slots, perSec: llmJobs / seconds, steadyPerSec, boundPerSec, steadyPct, unorderedSteadyPerSec: plainLlm },
      figures,
      pass: figures.every((f) => f.pass),
    };
  } finally {
    await fake.stop().catch(() => undefined);
    await deleteVhostWithEventKey(management, vhost).catch((err: unknown) => console.error(`warning: could not delete vhost ${vhost}: ${(err as Error).message}`));
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify({ instant: r.instant, llm: r.llm, pass: r.pass }, null, 2)}\n`);
}
