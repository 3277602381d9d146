/**
 * API benchmark: single-job publish throughput and latency of warren's HTTP API
 * against a minimal reference measured in the same run (a bare Hono route on
 * @hono/node-server doing one confirmed amqplib publish), both publishing ~1 KB
 * LLM jobs to a quorum queue, 64 concurrent keep-alive connections (autocannon).
 * Each server runs in its own process; rounds alternate so drift on a shared
 * machine hits every side alike; medians are reported, with each server's CPU
 * time per request (steadier than req/s on a busy machine).
 * Targets: warren >= 85% of the reference's throughput, p99 <= 1.5x.
 * A second, informational reference publishes the same message as warren
 * (its properties and x-warren-* headers) from the same bare route: the gap
 * between the two references is the cost of the message contract, the gap
 * from it to warren the cost of warren itself.
 * Run: node --import tsx bench/api-bench.ts [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import autocannon from 'autocannon';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { JOB_EVENT_BATCH_TYPE } from '../src/jobs/job-event-codec.ts';
import { jobEventsSchema } from '../src/config/topology-schema.ts';
import { signedEventProperties } from '../src/jobs/job-event-publisher.ts';
import { createJobEventKeyring } from '../src/jobs/job-event-signature.ts';
import { BENCH_EVENT_KEY, BENCH_KEY } from './api-bench-server.ts';
import { brokerCpuMs } from './broker-cpu.ts';
import type { BenchFigure } from './figures.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** warren's default status index size (topology `jobEvents.indexSize`), which the bench server keeps. */
const INDEX_SIZE = jobEventsSchema.parse({}).indexSize;
const AMQP_BASE = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** Options of {@link run}. */
export interface ApiBenchOptions {
  /** Requests per measured round. @default 20000 (quick: 5000) */
  requests?: number;
  /** Concurrent connections. @default 64 */
  connections?: number;
  /** Measured rounds per side (alternating). @default 5 (quick: 1); single rounds swing ±10% on a shared 2-core VM, the median of five much less */
  rounds?: number;
  /** A round stops after this many seconds even if `requests` were not all sent. @default 60 */
  maxRoundSeconds?: number;
  quick?: boolean;
  log?: (line: string) => void;
}

/** The servers measured. */
export type Side = 'warren' | 'reference' | 'reference-same' | 'warren-base';

/**
 * WARREN_BENCH_BASELINE=<another checkout of warren> adds a fourth side, `warren-base`: that
 * checkout's warren server, in the same rounds. For judging a change to the publish path
 * (`git worktree add /tmp/base HEAD`, then compare warren with warren-base); not in the report.
 */
const BASELINE = process.env.WARREN_BENCH_BASELINE;

/** One side's figures in one round. */
export interface RoundFigures {
  side: Side;
  requests: number;
  accepted: number;
  non2xx: number;
  errors: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Messages in the queue afterwards: must equal `accepted` (202 means stored). */
  queued: number;
  /** CPU time of the server process per accepted request. */
  serverCpuUs: number;
  /** CPU time of the local RabbitMQ (every beam.smp process) per accepted request; undefined when it can't be read. */
  brokerCpuUs: number | undefined;
  /** CPU time of this process (the load generator) per accepted request. */
  loadCpuUs: number;
}

/** Median figures of one side. */
export interface SideFigures {
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUs: number;
  /** Undefined when the broker's CPU could not be read (not on this machine). */
  brokerCpuUs: number | undefined;
}

/** Figures of one benchmark run. */
export interface ApiBenchResult {
  bench: 'api';
  connections: number;
  bodyBytes: number;
  rounds: RoundFigures[];
  warren: SideFigures;
  reference: SideFigures;
  /** Informational: the bare route publishing warren's exact message. */
  referenceSameMessage: SideFigures;
  throughputPct: number;
  p99Ratio: number;
  figures: BenchFigure[];
  pass: boolean;
}

/** A ~1 KB chat-completion job, as an LLM gateway client would send. */
export function benchJobBody(bytes = 1024): string {
  const job = {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
      { role: 'user', content: '' },
    ],
    temperature: 0.3,
    max_tokens: 512,
    metadata: { tenant: 'acme', requestId: randomUUID() },
  };
  const pad = Math.max(0, bytes - JSON.stringify(job).length);
  (job.messages[1] as { content: string }).content = 'Summarise this text: ' + 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil(pad / 44)).slice(0, Math.max(0, pad - 21));
  return JSON.stringify(job);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface BenchServer {
  port: number;
  child: ChildProcess;
  /** CPU time (ms) the server process has used so far. */
  cpuMs(): Promise<number>;
}

async function startServer(mode: Side, amqpUrl: string, vhost: string): Promise<BenchServer> {
  const script = mode === 'warren-base' ? join(BASELINE as string, 'bench', 'api-bench-server.ts') : join(HERE, 'api-bench-server.ts');
  // WARREN_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server into <dir> (for finding the next hot spot).
  const profile = process.env.WARREN_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.WARREN_BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', script, mode === 'warren-base' ? 'warren' : mode], {
    env: { ...process.env, BENCH_AMQP_URL: amqpUrl, BENCH_VHOST: vhost, WARREN_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const nextJson = async (): Promise<Record<string, number>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`${mode} bench server closed its output`);
    return JSON.parse(line.value) as Record<string, number>;
  };
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${mode} bench server exited with ${String(code)} before listening`);
  });
  const port = (await Promise.race([nextJson(), exited])).port as number;
  return {
    port,
    child,
    async cpuMs() {
      child.kill('SIGUSR2');
      return (await nextJson()).cpuMs as number;
    },
  };
}


/** One load run; `seconds` runs from the start to the last response (autocannon itself ends on a whole-second tick). */
async function load(url: string, body: string, headers: Record<string, string>, amount: number, connections: number, maxSeconds: number): Promise<{ result: autocannon.Result; seconds: number }> {
  const started = performance.now();
  let last = started;
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, connections, amount, timeout: 30 }, (err, result) =>
      err ? reject(err as Error) : resolve(result),
    );
  });
  instance?.on('response', () => {
    last = performance.now();
  });
  const stop = setTimeout(() => instance?.stop(), maxSeconds * 1000);
  try {
    const result = await done;
    return { result, seconds: (last - started) / 1000 };
  } finally {
    clearTimeout(stop);
  }
}

/** `count` synthetic `queued` events in `job.batch` messages of 1,000, confirmed, as the API's batcher writes them. */
async function prefillJobEvents(conn: Awaited<ReturnType<typeof amqplib.connect>>, count: number, vhost: string): Promise<void> {
  const confirm = await conn.createConfirmChannel();
  const at = new Date().toISOString();
  // Signed as warren signs them: the status tail skips anything else.
  const keys = createJobEventKeyring(BENCH_EVENT_KEY, vhost);
  for (let i = 0; i < count; i += 1_000) {
    const events = Array.from({ length: Math.min(1_000, count - i) }, () => ({ jobId: randomUUID(), status: 'queued', attempt: 1, at, source: 'api', route: 'chat' }));
    const content = Buffer.from(JSON.stringify(events));
    confirm.publish('warren.events', '', content, { contentType: 'application/json', ...signedEventProperties(keys, JOB_EVENT_BATCH_TYPE, content) });
  }
  await confirm.waitForConfirms();
  await confirm.close();
}

/** Runs the benchmark in a vhost of its own (deleted afterwards) and returns the figures. */
export async function run(options: ApiBenchOptions = {}): Promise<ApiBenchResult> {
  const quick = options.quick ?? false;
  const requests = options.requests ?? (quick ? 5_000 : 20_000);
  const connections = options.connections ?? 64;
  const roundsPerSide = options.rounds ?? (quick ? 1 : 5);
  const maxRoundSeconds = options.maxRoundSeconds ?? 60;
  const log = options.log ?? ((s: string) => console.log(s));
  const body = benchJobBody(1024);

  const management = createManagementClient({ url: MANAGEMENT_URL, timeoutMs: 60_000 });
  const user = new URL(AMQP_BASE).username || 'guest';
  const vhosts: string[] = [];
  const amqpConnections: Awaited<ReturnType<typeof amqplib.connect>>[] = [];
  const servers: ChildProcess[] = [];

  /**
   * A vhost with the bench's exchanges and queues, its events stream already holding a full index's worth of
   * `queued` events: a replica that has run for a while holds a full status index (every new job evicts the
   * oldest), so warren replays them at start and every timed round runs at capacity.
   */
  async function createBenchVhost(): Promise<{ vhost: string; amqpUrl: string; ch: amqplib.Channel }> {
    const vhost = `warren-bench-api-${randomUUID().slice(0, 8)}`;
    await management.put(`/vhosts/${seg(vhost)}`, {});
    vhosts.push(vhost);
    await management.put(`/permissions/${seg(vhost)}/${seg(decodeURIComponent(user))}`, { configure: '.*', write: '.*', read: '.*' });
    const amqpUrl = `${AMQP_BASE.replace(/\/$/, '')}/${seg(vhost)}`;
    const conn = await amqplib.connect(amqpUrl);
    amqpConnections.push(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange('llm.jobs', 'topic', { durable: true });
    // Every side publishes to a quorum queue, through the same topic exchange.
    await ch.assertQueue('llm.standard', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue('llm.standard', 'llm.jobs', 'llm.standard.#');
    await ch.assertQueue('ref.standard', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue('ref.standard', 'llm.jobs', 'ref.standard.#');
    await ch.assertExchange('warren.events', 'fanout', { durable: true });
    await ch.assertQueue('warren.events.log', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h' } });
    await ch.bindQueue('warren.events.log', 'warren.events', '');
    await prefillJobEvents(conn, INDEX_SIZE, vhost);
    return { vhost, amqpUrl, ch };
  }

  try {
    const { vhost, amqpUrl, ch } = await createBenchVhost();
    // The baseline gets a vhost of its own: in a shared one, each warren would tail the other's job events
    // (as replicas do) and spend CPU on them during the other's rounds.
    const baseVhost = BASELINE === undefined ? undefined : await createBenchVhost();
    const warren = await startServer('warren', amqpUrl, vhost);
    servers.push(warren.child);
    const reference = await startServer('reference', amqpUrl, vhost);
    servers.push(reference.child);
    const referenceSame = await startServer('reference-same', amqpUrl, vhost);
    servers.push(referenceSame.child);
    const base = baseVhost === undefined ? undefined : await startServer('warren-base', baseVhost.amqpUrl, baseVhost.vhost);
    if (base) servers.push(base.child);
    // Wait until warren is ready (status index caught up, topology seen) and check its index is full.
    for (const server of base ? [warren, base] : [warren]) {
      let ready = false;
      for (let i = 0; i < 600 && !ready; i++) {
        const r = await fetch(`http://127.0.0.1:${server.port}/readyz`).catch(() => undefined);
        ready = r?.status === 200;
        if (!ready) await new Promise((res) => setTimeout(res, 100));
      }
      if (!ready) throw new Error(`warren bench server on port ${server.port} did not become ready in 60 s`);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { authorization: `Bearer ${BENCH_KEY}` } })).text();
      const held = Number(/^warren_api_status_index_jobs (\d+)/m.exec(metrics)?.[1]);
      if (held !== INDEX_SIZE) throw new Error(`warren's status index holds ${held} jobs after the replay, expected ${INDEX_SIZE}`);
    }
    log(`[api-bench] warren replayed ${INDEX_SIZE.toLocaleString('en-US')} job events: every round runs with a full status index`);
    const warrenSide = (server: BenchServer, channel: amqplib.Channel) => ({ server, url: `http://127.0.0.1:${server.port}/v1/jobs/chat`, headers: { authorization: `Bearer ${BENCH_KEY}` }, queue: 'llm.standard', ch: channel });
    const sides: Partial<Record<Side, { server: BenchServer; url: string; headers: Record<string, string>; queue: string; ch: amqplib.Channel }>> = {
      warren: warrenSide(warren, ch),
      reference: { server: reference, url: `http://127.0.0.1:${reference.port}/jobs`, headers: {}, queue: 'ref.standard', ch },
      'reference-same': { server: referenceSame, url: `http://127.0.0.1:${referenceSame.port}/jobs`, headers: {}, queue: 'ref.standard', ch },
      ...(base && baseVhost ? { 'warren-base': warrenSide(base, baseVhost.ch) } : {}),
    };

    const round = async (side: Side, amount: number): Promise<RoundFigures> => {
      const s = sides[side];
      if (s === undefined) throw new Error(`no ${side} server`);
      await s.ch.purgeQueue(s.queue);
      const cpuBefore = await s.server.cpuMs();
      const brokerBefore = brokerCpuMs();
      const loadBefore = process.cpuUsage();
      const { result: r, seconds } = await load(s.url, body, s.headers, amount, connections, maxRoundSeconds);
      const loadUsed = process.cpuUsage(loadBefore);
      const brokerAfter = brokerCpuMs();
      const cpuAfter = await s.server.cpuMs();
      const queued = (await s.ch.checkQueue(s.queue)).messageCount;
      const accepted = r['2xx'];
      return {
        side,
        requests: r.requests.total,
        accepted,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        perSec: Math.round(accepted / seconds),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        queued,
        serverCpuUs: accepted === 0 ? 0 : Math.round(((cpuAfter - cpuBefore) * 1000) / accepted),
        brokerCpuUs: brokerBefore === undefined || brokerAfter === undefined || accepted === 0 ? undefined : Math.round(((brokerAfter - brokerBefore) * 1000) / accepted),
        loadCpuUs: accepted === 0 ? 0 : Math.round((loadUsed.user + loadUsed.system) / accepted),
      };
    };

    log(`[api-bench] warming up (${connections} connections, ${body.length}-byte jobs)`);
    for (const side of ['reference', 'reference-same', 'warren', ...(base ? (['warren-base'] as const) : [])] as const) await round(side, Math.min(3_000, requests));

    const rounds: RoundFigures[] = [];
    const orders: Side[][] = [
      ['reference', 'warren', 'reference-same'],
      ['warren', 'reference-same', 'reference'],
      ['reference-same', 'reference', 'warren'],
    ];
    for (let i = 0; i < roundsPerSide; i++) {
      const order = orders[i % orders.length] as Side[];
      // The baseline runs right before or after warren, alternating.
      const withBase = base === undefined ? order : order.flatMap((side) => (side !== 'warren' ? [side] : i % 2 === 0 ? (['warren', 'warren-base'] as Side[]) : (['warren-base', 'warren'] as Side[])));
      for (const side of withBase) {
        const f = await round(side, requests);
        rounds.push(f);
        log(
          `[api-bench] round ${i + 1} ${side.padEnd(14)} ${f.perSec} req/s  p50 ${f.p50Ms} ms  p99 ${f.p99Ms} ms  server CPU ${f.serverCpuUs} µs/req, broker ${f.brokerCpuUs ?? '?'}, load generator ${f.loadCpuUs}  (${f.accepted} accepted, ${f.non2xx} non-2xx, ${f.errors} errors, ${f.queued} in queue)`,
        );
      }
    }

    const pick = (side: Side): SideFigures => {
      const rs = rounds.filter((r) => r.side === side);
      return {
        perSec: median(rs.map((r) => r.perSec)),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        serverCpuUs: median(rs.map((r) => r.serverCpuUs)),
        brokerCpuUs: rs.every((r) => r.brokerCpuUs !== undefined) ? median(rs.map((r) => r.brokerCpuUs as number)) : undefined,
      };
    };
    const w = pick('warren');
    const ref = pick('reference');
    const same = pick('reference-same');
    const throughputPct = Math.round((w.perSec / ref.perSec) * 1000) / 10;
    const p99Ratio = Math.round((w.p99Ms / ref.p99Ms) * 100) / 100;
    const clean = rounds.every((r) => r.non2xx === 0 && r.errors === 0 && r.queued === r.accepted);
    const figures: BenchFigure[] = [
      {
        group: 'api',
        name: 'single-job publish throughput (64 conns, 1 KB, quorum)',
        unit: 'jobs/s',
        value: w.perSec,
        reference: ref.perSec,
        referenceName: 'bare Hono + amqplib confirm',
        target: '>= 85% of reference',
        pass: throughputPct >= 85,
      },
      {
        group: 'api',
        name: 'single-job publish p99 latency',
        unit: 'ms',
        value: w.p99Ms,
        reference: ref.p99Ms,
        referenceName: 'bare Hono + amqplib confirm',
        target: '<= 1.5x reference',
        pass: p99Ratio <= 1.5,
        higherIsBetter: false,
      },
      { group: 'api', name: 'single-job publish p50 latency', unit: 'ms', value: w.p50Ms, reference: ref.p50Ms, referenceName: 'bare Hono + amqplib confirm', target: 'informational', pass: true, higherIsBetter: false },
      {
        group: 'api',
        name: 'single-job publish throughput vs same-message reference',
        unit: 'jobs/s',
        value: w.perSec,
        reference: same.perSec,
        referenceName: "bare route publishing warren's message",
        target: 'informational',
        pass: true,
      },
      { group: 'api', name: 'API server CPU per accepted job', unit: 'µs', value: w.serverCpuUs, reference: ref.serverCpuUs, referenceName: 'bare Hono + amqplib confirm', target: 'informational', pass: true, higherIsBetter: false },
      // On two shared cores throughput follows server + broker + load generator CPU per job, not the server's alone.
      ...(w.brokerCpuUs === undefined || ref.brokerCpuUs === undefined
        ? []
        : [{ group: 'api', name: 'broker (RabbitMQ) CPU per accepted job', unit: 'µs', value: w.brokerCpuUs, reference: ref.brokerCpuUs, referenceName: 'bare Hono + amqplib confirm', target: 'informational', pass: true, higherIsBetter: false }]),
    ];
    log(
      `[api-bench] medians: warren ${w.perSec} req/s p50 ${w.p50Ms} ms p99 ${w.p99Ms} ms ${w.serverCpuUs} µs CPU/req (broker ${w.brokerCpuUs ?? '?'}) | reference ${ref.perSec} req/s p50 ${ref.p50Ms} ms p99 ${ref.p99Ms} ms ${ref.serverCpuUs} µs CPU/req (broker ${ref.brokerCpuUs ?? '?'}) | same-message reference ${same.perSec} req/s p99 ${same.p99Ms} ms ${same.serverCpuUs} µs CPU/req (broker ${same.brokerCpuUs ?? '?'})`,
    );
    if (base) {
      const b = pick('warren-base');
      log(`[api-bench] baseline (${BASELINE}): ${b.perSec} req/s p99 ${b.p99Ms} ms ${b.serverCpuUs} µs CPU/req; warren/baseline throughput ${Math.round((w.perSec / b.perSec) * 1000) / 10}%, CPU ${Math.round((w.serverCpuUs / b.serverCpuUs) * 1000) / 10}%`);
    }
    log(`[api-bench] throughput ${throughputPct}% of reference (target >= 85%), p99 ${p99Ratio}x (target <= 1.5x)${clean ? '' : ' | WARNING: errors or queue mismatch in some round'}`);
    return {
      bench: 'api',
      connections,
      bodyBytes: body.length,
      rounds,
      warren: w,
      reference: ref,
      referenceSameMessage: same,
      throughputPct,
      p99Ratio,
      figures,
      pass: clean && figures.every((f) => f.pass),
    };
  } finally {
    for (const child of servers) child.kill('SIGTERM');
    await Promise.all(servers.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    for (const conn of amqpConnections) await conn.close().catch(() => undefined);
    for (const vhost of vhosts) await deleteVhostWithEventKey(management, vhost);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ quick: process.argv.includes('--quick') })
    .then((r) => {
      console.log(JSON.stringify({ warren: r.warren, reference: r.reference, referenceSameMessage: r.referenceSameMessage, throughputPct: r.throughputPct, p99Ratio: r.p99Ratio, pass: r.pass }, null, 2));
      process.exitCode = r.pass ? 0 : 1;
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
