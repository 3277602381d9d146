/**
 * The OpenAI front door (docs/openai-front-door.md): what warren adds to an
 * LLM call made with the official `openai` SDK, each figure beside the same
 * call made directly to the fake LLM in the same run.
 *   (a) time to first token of streamed answers at 100 concurrent streams:
 *       p50 / p99 added over the direct stream (targets 10 ms / 40 ms);
 *   (b) non-streaming completion latency at 200 requests/s, p50 added over the
 *       direct call (target 5 ms);
 *   (c) a tokens-per-day budget enforced by two API replicas at once: tokens
 *       used by the jobs they admitted, within 1 % of the budget.
 * The API replicas and the worker run as `warren start` processes; the fake
 * LLM and the load generator run in this process. Direct and warren runs
 * alternate in slices, so a burst of other work on the shared machine lands
 * on both.
 * Run: node --import tsx bench/front-door-bench.ts [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { createFakeLlmServer, type FakeLlmServer } from '../fake-llm/index.ts';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { loadTopology } from '../src/config/load-topology.ts';
import { ensureTopology } from '../src/topology/ensure-topology.ts';
import { measureBrokerFloor, type BrokerFloor } from './broker-floor.ts';
import type { BenchFigure } from './figures.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AMQP_BASE = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const KEY = 'front-door-bench-key-0123456789';
const BUDGET_KEY = 'front-door-budget-key-0123456789';
/** Request rate of part (b); WARREN_BENCH_FD_RATE changes it (diagnostics: where the added latency starts to grow). @default 200 */
const RATE = Number(process.env.WARREN_BENCH_FD_RATE ?? 200);
/** Concurrent streams of part (a); WARREN_BENCH_FD_STREAMS changes it (diagnostics: the fixed cost, apart from queueing under load). @default 100 */
const STREAMS = Number(process.env.WARREN_BENCH_FD_STREAMS ?? 100);
/**
 * Queue type of the front-door route's queue; WARREN_BENCH_FD_QUEUE_TYPE=classic changes it (diagnostics: what the
 * quorum queue's commit adds before the worker gets a job; docs/openai-front-door.md, "Tuning"). @default quorum
 */
const QUEUE_TYPE = process.env.WARREN_BENCH_FD_QUEUE_TYPE === 'classic' ? 'classic' : 'quorum';
const TARGETS = { ttftP50Ms: 10, ttftP99Ms: 40, plainP50Ms: 5, budgetPct: 1 } as const;

/** Figures of one run. */
export interface FrontDoorBenchResult {
  ttft: { direct: Percentiles; warren: Percentiles; streams: number };
  plain: { direct: Percentiles; warren: Percentiles; rate: number; errors: number };
  budget: { budget: number; used: number; admitted: number; refused: number };
  /** This machine's floor for the broker trips the front door's path makes (informational: no target). */
  floor: BrokerFloor;
  figures: BenchFigure[];
  pass: boolean;
}

interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
  return { p50: round(at(50)), p99: round(at(99)), n: s.length };
}

/** The 1-minute load average (the machine is shared: every figure is logged beside it). */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
  } catch {
    return '?';
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function writeTopology(dir: string, vhost: string, llmUrl: string, budget: number): string {
  const topology = {
    version: 1,
    connection: { urls: [`${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`], management: MANAGEMENT_URL, vhost },
    exchanges: { 'llm.jobs': { type: 'topic' }, 'llm.dlx': { type: 'direct' } },
    queues: {
      'llm.standard': { type: QUEUE_TYPE, deadLetter: { exchange: 'llm.dlx', routingKey: 'dead' }, ...(QUEUE_TYPE === 'quorum' ? { deadLetterStrategy: 'at-least-once' } : {}), overflow: 'reject-publish' },
      'llm.dead': { type: 'quorum' },
    },
    bindings: [
      { source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.*.chat' },
      { source: 'llm.dlx', queue: 'llm.dead', routingKey: 'dead' },
    ],
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    providers: { fake: { baseURL: llmUrl, apiKey: 'fake', timeout: '30s' } },
    consumers: { chat: { queue: 'llm.standard', handler: 'chat-completion', route: 'chat', provider: 'fake', prefetch: 300, timeout: '60s', streaming: true } },
    openai: { route: 'chat', waitTimeout: '60s', models: { 'gpt-4o-mini': {} }, keys: { budget: { limits: { tokensPerDay: budget } } } },
  };
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, stringify(topology));
  symlinkSync(join(ROOT, 'consumers'), join(dir, 'consumers'), 'dir');
  return file;
}

function startWarren(kind: 'api' | 'worker', topologyFile: string, port?: number): { proc: ChildProcess; ready: Promise<void> } {
  const args = [join(ROOT, 'bin', 'warren.js'), 'start', kind, '--no-apply', ...(kind === 'worker' ? ['--no-fake-llm'] : ['--port', String(port)])];
  // WARREN_BENCH_PROFILE=<dir>: a V8 CPU profile of each warren process (written when it exits).
  const profile = process.env.WARREN_BENCH_PROFILE;
  const proc = spawn(process.execPath, [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []), ...args], {
    env: { ...process.env, WARREN_TOPOLOGY: topologyFile, WARREN_API_KEYS: `${KEY}:*::bench;${BUDGET_KEY}:*::budget`, OPENAI_API_KEY: 'fake', WARREN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  const ready = (async () => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`warren ${kind} exited: ${out}`);
      if (kind === 'api') {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (ok) return;
      } else if (out.includes('worker started') || proc.exitCode === null) {
        // The worker logs at warn level here: give it a moment to consume, then check a completion goes through (below).
        await new Promise((r) => setTimeout(r, 1500));
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`warren ${kind} not ready: ${out}`);
  })();
  return { proc, ready };
}

/** How long the streams of a run take to start, one after the other: a stream's length, so they start as they go on. */
const RAMP_MS = 200;

/**
 * Time to first chunk of `streams` concurrent streams for `durationMs`, one client each. The streams start spread
 * over {@link RAMP_MS} (a closed loop's steady state, not 100 requests in the same millisecond at every start).
 */
async function ttftRun(client: OpenAI, streams: number, durationMs: number, prompt: string): Promise<number[]> {
  const out: number[] = [];
  const until = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: streams }, async (_, k) => {
      await new Promise((r) => setTimeout(r, (k * RAMP_MS) / streams));
      while (Date.now() < until) {
        const started = performance.now();
        const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], stream: true });
        let first = true;
        for await (const _ of stream) {
          if (first) {
            out.push(performance.now() - started);
            first = false;
          }
        }
      }
    }),
  );
  return out;
}

/** Latency of non-streaming calls sent open-loop at `rate` per second for `durationMs`. */
async function plainRun(client: OpenAI, rate: number, durationMs: number, prompt: string): Promise<{ ms: number[]; errors: number }> {
  const ms: number[] = [];
  let errors = 0;
  const calls: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    calls.push(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }).then(
        () => void ms.push(performance.now() - t0),
        () => void errors++,
      ),
    );
  }
  await Promise.all(calls);
  return { ms, errors };
}

/**
 * Diagnostics (WARREN_BENCH_FD_HOPS=1): where warren's added latency of a non-streaming call goes, from
 * the job's own events (millisecond times stamped by each process on this machine's clock): the API until
 * the `queued` event (validation, publish, confirm), the broker and the worker until the attempt starts,
 * the attempt itself beyond the fake LLM's latency, and from the attempt's end until the client has the
 * answer (reply, API, HTTP). Medians over `count` calls at 5 per second.
 */
async function hopsRun(client: OpenAI, apiUrl: string, count: number, prompt: string, llmLatencyMs: number): Promise<string> {
  const rows: { sent: number; received: number; id: string }[] = [];
  for (let i = 0; i < count; i++) {
    const sent = Date.now();
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }).withResponse();
    rows.push({ sent, received: Date.now(), id: response.headers.get('x-warren-job-id') ?? '' });
    await new Promise((r) => setTimeout(r, 200));
  }
  const hops = { api: [] as number[], toWorker: [] as number[], attemptOverLlm: [] as number[], back: [] as number[], total: [] as number[] };
  for (const r of rows) {
    const res = await fetch(`${apiUrl}/v1/jobs/${r.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    const view = (await res.json()) as { createdAt: string; attempts: { startedAt?: string; endedAt?: string }[] };
    const queued = Date.parse(view.createdAt);
    const a = view.attempts[0];
    if (a?.startedAt === undefined || a.endedAt === undefined) continue;
    const started = Date.parse(a.startedAt);
    const ended = Date.parse(a.endedAt);
    hops.api.push(queued - r.sent);
    hops.toWorker.push(started - queued);
    hops.attemptOverLlm.push(ended - started - llmLatencyMs);
    hops.back.push(r.received - ended);
    hops.total.push(r.received - r.sent - llmLatencyMs);
  }
  const med = (xs: number[]) => percentiles(xs).p50;
  return `hops (median ms over ${hops.total.length} calls): client -> queued ${med(hops.api)}, queued -> attempt starts ${med(hops.toWorker)}, attempt beyond the LLM's ${llmLatencyMs} ms ${med(hops.attemptOverLlm)}, attempt ends -> client ${med(hops.back)}; added in all ${med(hops.total)}`;
}

/**
 * Runs `direct` and `warren` in alternating slices of `sliceMs` for `durationMs` each, so both meet the same
 * machine (the box is shared: a burst of other work lands on both figures, not on one of them).
 */
async function alternate<T>(slices: number, run: (which: 'direct' | 'warren', sliceMs: number) => Promise<T[]>, durationMs: number): Promise<{ direct: T[]; warren: T[] }> {
  const out = { direct: [] as T[], warren: [] as T[] };
  const sliceMs = durationMs / slices;
  for (let i = 0; i < slices; i++) {
    for (const which of ['direct', 'warren'] as const) out[which].push(...(await run(which, sliceMs)));
  }
  return out;
}

/** Two replicas, one key's daily token budget: sends until both refuse, then sums the tokens of what they admitted. */
async function budgetRun(urls: string[]): Promise<{ used: number; admitted: number; refused: number }> {
  const clients = urls.map((u) => new OpenAI({ baseURL: `${u}/v1`, apiKey: BUDGET_KEY, maxRetries: 0, timeout: 60_000 }));
  let used = 0;
  let admitted = 0;
  let refused = 0;
  let lastAdmitAt = Date.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      // Stop once nothing was admitted for 2 s (every job so far has reported its usage by then).
      while (Date.now() - lastAdmitAt < 2_000) {
        const client = clients[(i++ + w) % clients.length] as OpenAI;
        try {
          const res = await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 40, messages: [{ role: 'user', content: `budget probe ${w} ${i}: tell me something short about queues and streams` }] });
          admitted++;
          lastAdmitAt = Date.now();
          used += res.usage?.total_tokens ?? 0;
        } catch (err) {
          if (err instanceof OpenAI.RateLimitError) refused++;
          else throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }),
  );
  return { used, admitted, refused };
}

/** Runs the benchmark. */
export async function run(options: { quick?: boolean; log?: (line: string) => void } = {}): Promise<FrontDoorBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick === true;
  const durationMs = quick ? 4_000 : 10_000;
  const budgetTokens = quick ? 5_000 : 20_000;
  const management = createManagementClient({ url: MANAGEMENT_URL, timeoutMs: 60_000 });
  const vhost = `warren-bench-front-door-${Date.now().toString(36)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const llm: FakeLlmServer = await createFakeLlmServer({ latencyMs: 100, streamChunks: 8, streamChunkDelayMs: 10 });
  const procs: ChildProcess[] = [];
  try {
    const dir = mkdtempSync(join(tmpdir(), 'warren-front-door-bench-'));
    const file = writeTopology(dir, vhost, llm.url, budgetTokens);
    await ensureTopology(loadTopology(file, { env: {} }).topology, management);
    const [portA, portB] = [await freePort(), await freePort()];
    const apiA = startWarren('api', file, portA);
    const apiB = startWarren('api', file, portB);
    const worker = startWarren('worker', file);
    procs.push(apiA.proc, apiB.proc, worker.proc);
    await Promise.all([apiA.ready, apiB.ready, worker.ready]);
    const direct = new OpenAI({ baseURL: llm.url, apiKey: 'fake', maxRetries: 0, timeout: 60_000 });
    const warren = new OpenAI({ baseURL: `http://127.0.0.1:${portA}/v1`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
    const prompt = 'Summarise why durable queues matter for LLM gateways in one short paragraph.';
    // Warm-up: connections, JIT, the worker's first jobs.
    await ttftRun(warren, 10, 1_000, prompt);
    await ttftRun(direct, 10, 500, prompt);

    log(`front-door bench: (a) time to first token, ${STREAMS} concurrent streams (front-door queue: ${QUEUE_TYPE}; load average ${loadAverage()})`);
    const slices = quick ? 2 : 4;
    const ttft = await alternate(slices, (which, ms) => ttftRun(which === 'direct' ? direct : warren, STREAMS, ms, prompt), durationMs);
    const ttftDirect = percentiles(ttft.direct);
    const ttftWarren = percentiles(ttft.warren);
    log(`  direct p50 ${ttftDirect.p50} p99 ${ttftDirect.p99} (n ${ttftDirect.n}); warren p50 ${ttftWarren.p50} p99 ${ttftWarren.p99} (n ${ttftWarren.n}); load average ${loadAverage()}`);

    log(`front-door bench: (b) non-streaming latency at ${RATE} requests/s (load average ${loadAverage()})`);
    await llm.setConfig({ latencyMs: 50 });
    const errors = { direct: 0, warren: 0 };
    const plain = await alternate(
      slices,
      async (which, ms) => {
        const r = await plainRun(which === 'direct' ? direct : warren, RATE, ms, prompt);
        errors[which] += r.errors;
        return r.ms;
      },
      durationMs,
    );
    const plainWarren = { errors: errors.warren };
    const pd = percentiles(plain.direct);
    const pw = percentiles(plain.warren);
    log(`  direct p50 ${pd.p50} p99 ${pd.p99}; warren p50 ${pw.p50} p99 ${pw.p99}; errors ${errors.direct + errors.warren}; load average ${loadAverage()}`);
    if (process.env.WARREN_BENCH_FD_HOPS === '1') log(`  ${await hopsRun(warren, `http://127.0.0.1:${portA}`, 40, prompt, 50)}`);
    // Beside (b): what the broker trips alone cost here. A non-streaming call crosses the broker twice (the job, committed to a
    // quorum queue, to the worker; the worker's reply to the API) and makes one more HTTP hop than the direct call.
    const floor = await measureBrokerFloor(`${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`);
    log(`  machine floor (bare amqplib, calls 100 ms apart, medians): broker hop ${floor.hopMs} ms, quorum publish -> confirm ${floor.quorumConfirmMs} ms`);

    log(`front-door bench: (c) a ${budgetTokens}-token daily budget across two API replicas`);
    await llm.setConfig({ latencyMs: 20 });
    const b = await budgetRun([`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`]);
    const overPct = round(((b.used - budgetTokens) / budgetTokens) * 100);
    log(`  used ${b.used} of ${budgetTokens} tokens (${overPct} %), ${b.admitted} admitted, ${b.refused} refused`);

    const addedP50 = round(ttftWarren.p50 - ttftDirect.p50);
    const addedP99 = round(ttftWarren.p99 - ttftDirect.p99);
    const addedPlain = round(pw.p50 - pd.p50);
    const figures: BenchFigure[] = [
      { group: 'front-door', name: `TTFT added, ${STREAMS} concurrent streams, p50`, unit: 'ms', value: addedP50, reference: ttftDirect.p50, referenceName: 'TTFT calling the fake LLM directly (p50)', target: `<= ${TARGETS.ttftP50Ms} ms added`, pass: addedP50 <= TARGETS.ttftP50Ms, higherIsBetter: false },
      { group: 'front-door', name: `TTFT added, ${STREAMS} concurrent streams, p99`, unit: 'ms', value: addedP99, reference: ttftDirect.p99, referenceName: 'TTFT calling the fake LLM directly (p99)', target: `<= ${TARGETS.ttftP99Ms} ms added`, pass: addedP99 <= TARGETS.ttftP99Ms, higherIsBetter: false },
      { group: 'front-door', name: `non-streaming latency added at ${RATE} req/s, p50`, unit: 'ms', value: addedPlain, reference: pd.p50, referenceName: 'the same call to the fake LLM directly (p50)', target: `<= ${TARGETS.plainP50Ms} ms added`, pass: addedPlain <= TARGETS.plainP50Ms && plainWarren.errors === 0, higherIsBetter: false },
      { group: 'front-door', name: 'token budget across 2 API replicas, used vs budget', unit: '%', value: round((b.used / budgetTokens) * 100), reference: 100, referenceName: `the configured budget, ${budgetTokens} tokens/day`, referenceKind: 'constant', target: `within ${TARGETS.budgetPct} % of the budget`, pass: Math.abs(b.used - budgetTokens) <= (budgetTokens * TARGETS.budgetPct) / 100, higherIsBetter: false },
    ];
    return {
      ttft: { direct: ttftDirect, warren: ttftWarren, streams: STREAMS },
      plain: { direct: pd, warren: pw, rate: RATE, errors: plainWarren.errors },
      budget: { budget: budgetTokens, ...b },
      floor,
      figures,
      pass: figures.every((f) => f.pass),
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await llm.close();
    await deleteVhostWithEventKey(management, vhost);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify({ ttft: r.ttft, plain: r.plain, budget: r.budget, floor: r.floor, pass: r.pass }, null, 2)}\n`);
  process.exitCode = r.pass ? 0 : 1;
}
