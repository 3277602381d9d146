/**
 * Job-status benchmark: an API replica's boot and lookups when the job-events
 * stream holds a week of history. The stream of a fresh vhost is filled with
 * 10,000,000 signed events (3,340,000 jobs x queued / running / succeeded with
 * a short LLM answer; every tenth job an Idempotency-Key (v5) id, the rest
 * time-ordered (v7) ids), spread over 7 days as warren's writers would have
 * written them, with no payloads (jobEvents.payloadBytes' default, 0); with
 * `--payload-bytes N` (e.g. 1024), beside each message of events the payloads
 * of its `queued` jobs in a `job.payloads` message, as an API that keeps
 * payloads writes them (their cost on lookups is measured that way). Then, each replica in its own process:
 *   1. a first start without checkpoints (an upgrade): ready, and the
 *      background indexing of the history, which writes the checkpoints;
 *   2. a restart (what every deploy does): time to ready and RSS, then GET of
 *      200 random jobs from the oldest third of the history (each checked),
 *      and of 100 random Idempotency-Key ids, then the payloads of the 200
 *      (GET /v1/jobs/{id}/payload, each checked);
 *   3. the same replica's boot on an empty stream (another vhost), same run:
 *      the reference.
 * Targets: ready < 5 s and RSS < 256 MB with the 10M-event stream, GET p99 <
 * 250 ms. Run: node --import tsx bench/status-bench.ts [--quick] [--payload-bytes N]   (quick: 1M events)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statfsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { uuidV5 } from '../src/api/jobs/idempotency.ts';
import { startApi } from '../src/api/start-api.ts';
import { JOB_EVENT_BATCH_TYPE } from '../src/jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE } from '../src/jobs/job-event-payload.ts';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { topologySchema, type Topology } from '../src/config/topology-schema.ts';
import { newJobId } from '../src/jobs/job-id.ts';
import { signedEventProperties } from '../src/jobs/job-event-publisher.ts';
import { createJobEventKeyring } from '../src/jobs/job-event-signature.ts';
import { createLogger, createSilentLogger } from '../src/observability/logger.ts';
import { ensureTopology } from '../src/topology/ensure-topology.ts';
import type { BenchFigure } from './figures.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const AMQP_BASE = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const KEY = 'status-bench-key-0123456789';
const EVENT_KEY = 'status-bench-event-key-0123456789';
const WEEK_MS = 7 * 86_400_000;
const TARGETS = { readyS: 5, rssMb: 256, getP99Ms: 250 } as const;

/** Options of {@link run}. */
export interface StatusBenchOptions {
  /** Events written to the stream (3 per job). @default 10,000,000 (quick: 1,000,000) */
  events?: number;
  /** Size of each job's payload beside its `queued` event (0: none, jobEvents.payloadBytes' default). @default 0 */
  payloadBytes?: number;
  quick?: boolean;
  log?: (line: string) => void;
}

/** Figures of one run. */
export interface StatusBenchResult {
  bench: 'status';
  events: number;
  jobs: number;
  streamBytes: number;
  prefillS: number;
  upgrade: { readyS: number; indexedS: number };
  restart: { readyS: number; rssMb: number; cachedJobs: number; segments: number; filterBytes: number };
  empty: { readyS: number; rssMb: number };
  get: { p50Ms: number; p99Ms: number; maxMs: number; checked: number };
  getIdempotent: { p50Ms: number; p99Ms: number };
  /** GET /v1/jobs/{id}/payload of the same 200 old jobs (undefined with payloadBytes 0). */
  getPayload: { p50Ms: number; p99Ms: number } | undefined;
  payloadBytes: number;
  figures: BenchFigure[];
  pass: boolean;
}

/** The topology each replica serves: one chat route, warren's streams with their defaults. */
export function benchTopology(vhost: string): Topology {
  return topologySchema.parse({
    version: 1,
    connection: { urls: [`${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`], management: MANAGEMENT_URL, vhost },
    exchanges: { 'llm.jobs': { type: 'topic' } },
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
  });
}

const CONTENT = 'Sure: the answer depends on the context you give; here is a short summary of the main points, with one caveat about the edge cases and a suggestion for a follow-up question.';

/** Job i's payload: a chat job of `bytes` bytes whose text names the job, so a lookup's answer can be checked. */
export function payloadOf(i: number, bytes: number): string {
  const base = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: `job ${i}: ` }], temperature: 0.2 });
  const pad = Math.max(0, bytes - base.length);
  return base.replace(`job ${i}: `, `job ${i}: ${'Summarise this text: the quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(pad / 66)).slice(0, pad)}`);
}

/** Job i's id: every tenth an Idempotency-Key id (v5), the rest time-ordered at the job's creation. */
function jobId(i: number, at: number): string {
  return i % 10 === 3 ? uuidV5(`bench\nroute:chat\nkey-${i}`) : newJobId(at);
}

/**
 * Writes `events` events (a third each of queued / running 1 s later /
 * succeeded 5 s later) of jobs spread evenly over the last 7 days, 1,000 events
 * a signed job.batch message stamped with its first event's time.
 */
export async function prefill(amqpUrl: string, vhost: string, events: number, sample: { old: Set<number>; idem: Set<number> }, ids: Map<number, string>, payloadBytes = 0): Promise<{ bytes: number }> {
  const conn = await amqplib.connect(amqpUrl);
  const ch = await conn.createConfirmChannel();
  const keys = createJobEventKeyring(EVENT_KEY, vhost);
  const jobs = Math.ceil(events / 3);
  const t0 = Date.now() - WEEK_MS;
  const step = WEEK_MS / jobs;
  const idOf: string[] = new Array(32);
  let batch: string[] = [];
  let payloads: string[] = [];
  let payloadsTs = 0;
  let batchTs = 0;
  let bytes = 0;
  let inFlight = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const content = Buffer.from(`[${batch.join(',')}]`);
    bytes += content.length;
    ch.publish('warren.events', '', content, { contentType: 'application/json', timestamp: batchTs, ...signedEventProperties(keys, JOB_EVENT_BATCH_TYPE, content) });
    batch = [];
    if (payloads.length > 0) {
      // As the API writes them (job-event-payload.ts): the batch's payloads in a message of their own, stamped
      // when written, after its last job was created (lookups skip segments stamped well before a job's id time).
      const records = Buffer.from(`[${payloads.join(',')}]`);
      bytes += records.length;
      ch.publish('warren.events', '', records, { contentType: 'application/json', timestamp: payloadsTs, ...signedEventProperties(keys, JOB_PAYLOADS_TYPE, records) });
      payloads = [];
    }
    if (++inFlight >= 256) {
      await ch.waitForConfirms();
      inFlight = 0;
    }
  };
  const push = async (json: string, at: number) => {
    if (batch.length === 0) batchTs = Math.round(at);
    batch.push(json);
    if (batch.length >= 1_000) await flush();
  };
  // Job i is created at t0 + i*step; its running event comes ~1 s later, its outcome ~5 s later: emitted in time order.
  const runLag = Math.max(1, Math.round(1_000 / step));
  const doneLag = Math.max(runLag + 1, Math.round(5_000 / step));
  for (let i = 0; i < jobs + doneLag; i++) {
    if (i < jobs) {
      const at = t0 + i * step;
      const id = jobId(i, at);
      idOf[i & 31] = id;
      if (sample.old.has(i) || sample.idem.has(i)) ids.set(i, id);
      if (payloadBytes > 0) {
        const payload = payloadOf(i, payloadBytes);
        payloads.push(JSON.stringify({ jobId: id, payload, payloadBytes: Buffer.byteLength(payload) }));
        payloadsTs = Math.round(at);
      }
      await push(`{"jobId":"${id}","status":"queued","attempt":1,"at":"${new Date(at).toISOString()}","source":"api","route":"chat","owner":"bench"}`, at);
    }
    const r = i - runLag;
    if (r >= 0 && r < jobs) {
      const at = t0 + r * step + 1_000;
      await push(`{"source":"worker","at":"${new Date(at).toISOString()}","jobId":"${idOf[r & 31]}","status":"running","route":"chat","attempt":1}`, at);
    }
    const d = i - doneLag;
    if (d >= 0 && d < jobs) {
      const at = t0 + d * step + 5_000;
      await push(
        `{"source":"worker","at":"${new Date(at).toISOString()}","jobId":"${idOf[d & 31]}","status":"succeeded","route":"chat","attempt":1,"durationMs":4000,` +
          `"result":{"id":"chatcmpl-${d}","model":"gpt-4o-mini","content":"${CONTENT}","finishReason":"stop"},"usage":{"promptTokens":42,"completionTokens":96,"totalTokens":138}}`,
        at,
      );
    }
  }
  await flush();
  await ch.waitForConfirms();
  await conn.close();
  return { bytes };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

/** A replica started by {@link startReplica}. */
export interface Replica {
  url: string;
  child: ChildProcess;
  /** Wall time from spawning the process to /readyz 200. */
  readyS: number;
  memory(): Promise<{ rssMb: number; heapMb: number; cachedJobs: number; segments: number; filterBytes: number; indexed: boolean; warming: boolean }>;
  stop(): Promise<void>;
}

/** Spawns a replica (this file in `server` mode) and waits until /readyz answers 200. */
export async function startReplica(vhost: string): Promise<Replica> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'server'], {
    env: { ...process.env, BENCH_VHOST: vhost, WARREN_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, number | boolean>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error('status bench server closed its output');
    return JSON.parse(line.value) as Record<string, number | boolean>;
  };
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`status bench server exited with ${String(code)}`);
  });
  const port = (await Promise.race([next(), exited])).port as number;
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (performance.now() - started > 300_000) throw new Error('replica not ready within 300 s');
    await new Promise((res) => setTimeout(res, 25));
  }
  const readyS = (performance.now() - started) / 1000;
  return {
    url,
    child,
    readyS,
    async memory() {
      child.kill('SIGUSR2');
      const m = await next();
      return {
        rssMb: (m.rss as number) / 1e6,
        heapMb: (m.heap as number) / 1e6,
        cachedJobs: m.cached as number,
        segments: m.segments as number,
        filterBytes: m.filterBytes as number,
        indexed: m.indexed as boolean,
        warming: m.warming as boolean,
      };
    },
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Runs the benchmark in vhosts of its own (deleted afterwards). */
export async function run(options: StatusBenchOptions = {}): Promise<StatusBenchResult> {
  const quick = options.quick ?? false;
  const events = options.events ?? (quick ? 1_000_000 : 10_000_000);
  const payloadBytes = options.payloadBytes ?? 0;
  const log = options.log ?? ((s: string) => console.log(s));
  const management = createManagementClient({ url: MANAGEMENT_URL, timeoutMs: 120_000 });
  const user = new URL(AMQP_BASE).username || 'guest';
  // Stream segments: about 230 bytes an event plus a third of a (JSON-escaped) payload, written once, plus the checkpoints.
  const need = events * (400 + Math.ceil((payloadBytes * 1.2) / 3));
  const free = statfsSync('/').bavail * statfsSync('/').bsize;
  if (free < need) throw new Error(`status bench needs ~${Math.round(need / 1e9)} GB of free disk for the broker's stream segments; ${Math.round(free / 1e9)} GB free`);
  const vhosts: string[] = [];
  const replicas: Replica[] = [];
  const newVhost = async (name: string) => {
    const vhost = `warren-bench-status-${name}-${Math.random().toString(16).slice(2, 8)}`;
    await management.put(`/vhosts/${seg(vhost)}`, {});
    vhosts.push(vhost);
    await management.put(`/permissions/${seg(vhost)}/${seg(decodeURIComponent(user))}`, { configure: '.*', write: '.*', read: '.*' });
    await ensureTopology(benchTopology(vhost), management, createSilentLogger());
    return vhost;
  };
  try {
    const vhost = await newVhost('full');
    const amqpUrl = `${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`;
    const jobs = Math.ceil(events / 3);
    // Samples: 200 jobs of the oldest third with a time-ordered id, 100 Idempotency-Key jobs anywhere.
    const old = new Set<number>();
    while (old.size < 200) {
      const i = Math.floor(Math.random() * (jobs / 3));
      if (i % 10 !== 3) old.add(i);
    }
    const idem = new Set<number>();
    while (idem.size < 100) idem.add(Math.floor(Math.random() * (jobs / 10)) * 10 + 3);
    const ids = new Map<number, string>();
    let t = performance.now();
    const { bytes } = await prefill(amqpUrl, vhost, events, { old, idem }, ids, payloadBytes);
    const prefillS = (performance.now() - t) / 1000;
    log(
      `[status-bench] ${events.toLocaleString('en-US')} events (${jobs.toLocaleString('en-US')} jobs, ${payloadBytes > 0 ? `${payloadBytes}-byte payloads, ` : 'no payloads, '}${(bytes / 1e9).toFixed(2)} GB) written in ${prefillS.toFixed(1)} s`,
    );

    // 1. First start without checkpoints: ready at once, the history indexed in the background.
    const first = await startReplica(vhost);
    replicas.push(first);
    t = performance.now();
    for (;;) {
      if ((await first.memory()).indexed) break;
      if (performance.now() - t > 600_000) throw new Error('history not indexed within 600 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const upgrade = { readyS: first.readyS, indexedS: first.readyS + (performance.now() - t) / 1000 };
    await first.stop();
    log(`[status-bench] first start without checkpoints: ready in ${upgrade.readyS.toFixed(2)} s, history indexed after ${upgrade.indexedS.toFixed(1)} s`);

    // 2. A restart: from the checkpoints.
    const second = await startReplica(vhost);
    replicas.push(second);
    const mem = await second.memory();
    if (!mem.indexed) throw new Error('the restarted replica is indexing the stream again: checkpoints were not used');
    // The cache fills with the newest jobs after readiness: RSS is taken at ready, once it is full, and after the GETs; the highest counts.
    let warm = mem;
    for (let i = 0; i < 600 && warm.warming; i++) {
      await new Promise((r) => setTimeout(r, 100));
      warm = await second.memory();
    }
    const restart = { readyS: second.readyS, rssMb: Math.max(mem.rssMb, warm.rssMb), cachedJobs: warm.cachedJobs, segments: mem.segments, filterBytes: mem.filterBytes };
    log(
      `[status-bench] restart: ready in ${restart.readyS.toFixed(2)} s, RSS ${mem.rssMb.toFixed(0)} MB at ready, ${warm.rssMb.toFixed(0)} MB with ${warm.cachedJobs} jobs cached, ${restart.segments} segments, filters ${(restart.filterBytes / 1e6).toFixed(1)} MB`,
    );
    const timeGet = async (i: number): Promise<number> => {
      const id = ids.get(i) as string;
      const started = performance.now();
      const res = await fetch(`${second.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${KEY}` } });
      const body = (await res.json()) as { id?: string; status?: string; result?: { id?: string } };
      const ms = performance.now() - started;
      if (res.status !== 200 || body.id !== id || body.status !== 'succeeded' || body.result?.id !== `chatcmpl-${i}`) {
        throw new Error(`GET /v1/jobs/${id} (job ${i}) answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      }
      return ms;
    };
    const oldMs: number[] = [];
    for (const i of old) oldMs.push(await timeGet(i));
    const idemMs: number[] = [];
    for (const i of idem) idemMs.push(await timeGet(i));
    const get = { p50Ms: pct(oldMs, 50), p99Ms: pct(oldMs, 99), maxMs: Math.max(...oldMs), checked: oldMs.length };
    const getIdempotent = { p50Ms: pct(idemMs, 50), p99Ms: pct(idemMs, 99) };
    // The payloads of the same old jobs: read from the stream on each request (the cache holds none).
    let getPayload: StatusBenchResult['getPayload'];
    if (payloadBytes > 0) {
      const payloadMs: number[] = [];
      for (const i of old) {
        const id = ids.get(i) as string;
        const started = performance.now();
        const res = await fetch(`${second.url}/v1/jobs/${id}/payload`, { headers: { authorization: `Bearer ${KEY}` } });
        const text = await res.text();
        payloadMs.push(performance.now() - started);
        if (res.status !== 200 || text !== payloadOf(i, payloadBytes)) throw new Error(`GET /v1/jobs/${id}/payload (job ${i}) answered ${res.status} ${text.slice(0, 200)}`);
      }
      getPayload = { p50Ms: pct(payloadMs, 50), p99Ms: pct(payloadMs, 99) };
    }
    const after = await second.memory();
    log(
      `[status-bench] GET old jobs: p50 ${get.p50Ms.toFixed(1)} ms, p99 ${get.p99Ms.toFixed(1)} ms; Idempotency-Key ids p99 ${getIdempotent.p99Ms.toFixed(1)} ms; ` +
        `${getPayload === undefined ? '' : `their payloads p50 ${getPayload.p50Ms.toFixed(1)} ms, p99 ${getPayload.p99Ms.toFixed(1)} ms; `}RSS after ${after.rssMb.toFixed(0)} MB`,
    );
    await second.stop();

    // 3. The reference: the same replica on an empty stream, same run.
    const emptyVhost = await newVhost('empty');
    const empty = await startReplica(emptyVhost);
    replicas.push(empty);
    const emptyMem = await empty.memory();
    const emptyRef = { readyS: empty.readyS, rssMb: emptyMem.rssMb };
    await empty.stop();
    log(`[status-bench] empty stream: ready in ${emptyRef.readyS.toFixed(2)} s, RSS ${emptyRef.rssMb.toFixed(0)} MB`);

    const rssMb = Math.max(restart.rssMb, after.rssMb);
    const label = `${(events / 1e6).toFixed(0)}M events${payloadBytes > 0 ? ` with ${payloadBytes}-byte payloads` : ''}`;
    const figures: BenchFigure[] = [
      { group: 'status', name: `ready after a restart, ${label} in the stream`, unit: 's', value: restart.readyS, reference: emptyRef.readyS, referenceName: 'same replica, empty stream', target: `< ${TARGETS.readyS} s`, pass: restart.readyS < TARGETS.readyS, higherIsBetter: false },
      { group: 'status', name: `RSS, ${label}, ${restart.cachedJobs.toLocaleString('en-US')} jobs cached`, unit: 'MB', value: rssMb, reference: emptyRef.rssMb, referenceName: 'same replica, empty stream', target: `< ${TARGETS.rssMb} MB`, pass: rssMb < TARGETS.rssMb, higherIsBetter: false },
      { group: 'status', name: `GET of old jobs p99 (${get.checked} random, oldest third)`, unit: 'ms', value: get.p99Ms, target: `< ${TARGETS.getP99Ms} ms`, pass: get.p99Ms < TARGETS.getP99Ms && get.checked === 200, higherIsBetter: false },
      { group: 'status', name: 'GET of Idempotency-Key (v5) jobs p99 (100 random)', unit: 'ms', value: getIdempotent.p99Ms, target: 'informational', pass: true, higherIsBetter: false },
      ...(getPayload === undefined
        ? []
        : [{ group: 'status', name: `GET of old jobs' payloads p99 (the same ${get.checked}, /v1/jobs/{id}/payload)`, unit: 'ms', value: getPayload.p99Ms, target: 'informational', pass: true, higherIsBetter: false } satisfies BenchFigure]),
      { group: 'status', name: 'first start without checkpoints: ready', unit: 's', value: upgrade.readyS, target: 'informational', pass: true, higherIsBetter: false },
      { group: 'status', name: 'first start without checkpoints: history indexed', unit: 's', value: upgrade.indexedS, target: 'informational', pass: true, higherIsBetter: false },
    ];
    return {
      bench: 'status',
      events,
      jobs,
      streamBytes: bytes,
      prefillS,
      upgrade,
      restart: { ...restart, rssMb },
      empty: emptyRef,
      get,
      getIdempotent,
      getPayload,
      payloadBytes,
      figures,
      pass: figures.every((f) => f.pass),
    };
  } finally {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    for (const v of vhosts) await deleteVhostWithEventKey(management, v).catch(() => undefined);
  }
}

/** `server` mode: one API replica on BENCH_VHOST; prints {"port"}; on SIGUSR2 prints its RSS and history state. */
async function server(): Promise<void> {
  const vhost = process.env.BENCH_VHOST ?? '/';
  const api = await startApi({
    topology: benchTopology(vhost),
    port: 0,
    host: '127.0.0.1',
    apiKeys: `${KEY}:*:admin:bench`,
    eventKeys: createJobEventKeyring(EVENT_KEY, vhost),
    // WARREN_BENCH_LOG=info shows the replica's own account of its boot on stderr.
    logger: process.env.WARREN_BENCH_LOG ? createLogger({ name: 'status-bench', level: process.env.WARREN_BENCH_LOG, destination: process.stderr }) : createSilentLogger(),
  });
  process.stdout.write(`${JSON.stringify({ port: api.port })}\n`);
  process.on('SIGUSR2', () => {
    const s = api.history.state();
    const m = process.memoryUsage();
    if (process.env.WARREN_BENCH_LOG) process.stderr.write(`${JSON.stringify({ memory: m })}\n`);
    process.stdout.write(`${JSON.stringify({ rss: m.rss, heap: m.heapUsed, cached: api.index.size(), segments: s.segments, filterBytes: s.filterBytes, indexed: s.indexed, warming: s.warming })}\n`);
  });
  process.on('SIGTERM', () => {
    // A graceful stop writes the checkpoints still pending, as a deploy would.
    void api.close().finally(() => process.exit(0));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === 'server') await server();
  else {
    const at = process.argv.indexOf('--payload-bytes');
    const r = await run({ quick: process.argv.includes('--quick'), ...(at > 0 ? { payloadBytes: Number(process.argv[at + 1]) } : {}) });
    console.log(JSON.stringify({ ...r, figures: undefined }, null, 2));
    process.exitCode = r.pass ? 0 : 1;
  }
}
