/**
 * Soak: a steady rate of chat jobs through API -> queue -> worker -> fake LLM -> results for a
 * bounded time, with API and worker replicas as separate processes. Reports throughput, end-to-end
 * latency (HTTP request start -> result observed on the results stream), every process's memory at
 * start and end (and its trend), and the job accounting (0 lost is the pass condition).
 *
 *   node --import tsx bench/soak.ts                         5 minutes at 50 jobs/s on 127.0.0.1:5672
 *   node --import tsx bench/soak.ts --duration 30s --rate 100 --apis 2 --workers 3 --latency 200
 *   node --import tsx bench/soak.ts --cluster               against scripts/cluster.sh (must be started)
 */
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/config/duration.ts';
import type { BenchFigure } from './figures.ts';
import type { LedgerReport } from '../test/chaos/helpers/job-ledger.ts';
import { createScenario, LOCAL_CLUSTER, SINGLE_BROKER, type Scenario } from '../test/chaos/helpers/scenario.ts';
import type { ManagedProcess } from '../test/chaos/helpers/spawn-process.ts';
import { freePort, type ApiProcess } from '../test/chaos/helpers/warren-processes.ts';

/** Options of {@link run}. */
export interface SoakOptions {
  /** How long load is offered. @default 300000 (5 minutes) */
  durationMs?: number;
  /** Jobs per second offered. @default 50 */
  ratePerSecond?: number;
  /** API processes (requests are spread round-robin). @default 2 */
  apis?: number;
  /** Worker processes. @default 2 */
  workers?: number;
  /** Fake LLM latency per call, ms. @default 200 */
  llmLatencyMs?: number;
  /** Run against the local 3-node cluster instead of the single broker. @default false */
  cluster?: boolean;
  /** Memory sample interval. @default 10000 */
  sampleEveryMs?: number;
  log?: (line: string) => void;
}

/** Memory of one process over the run. */
export interface ProcessMemory {
  name: string;
  /** RSS after warm-up and at the end, MiB. */
  startMiB: number;
  endMiB: number;
  maxMiB: number;
  /** Least-squares slope of RSS over the second half of the run, MiB per minute (a leak shows as a steady positive slope). */
  slopeMiBPerMin: number;
}

/** What a soak measured. */
export interface SoakResult {
  options: Required<Omit<SoakOptions, 'log'>>;
  /** Jobs accepted per second over the load window. */
  acceptedPerSecond: number;
  /** Jobs finished per second, from the first submit to the last finish. */
  finishedPerSecond: number;
  /** End-to-end latency percentiles, ms. */
  e2e: { p50: number; p99: number; max: number };
  /** HTTP 202 latency percentiles, ms. */
  http: { p50: number; p99: number };
  memory: ProcessMemory[];
  ledger: LedgerReport;
  elapsedMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

function slope(points: readonly { t: number; v: number }[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const MiB = 1024 * 1024;

/** Runs the soak and returns its figures. Lost jobs are reported, not thrown: the caller decides. */
export async function run(options: SoakOptions = {}): Promise<SoakResult> {
  const o = {
    durationMs: options.durationMs ?? 300_000,
    ratePerSecond: options.ratePerSecond ?? 50,
    apis: options.apis ?? 2,
    workers: options.workers ?? 2,
    llmLatencyMs: options.llmLatencyMs ?? 200,
    cluster: options.cluster ?? false,
    sampleEveryMs: options.sampleEveryMs ?? 10_000,
  };
  const log = options.log ?? ((line: string) => console.log(line));
  const scenario: Scenario = await createScenario('soak', {
    broker: o.cluster ? LOCAL_CLUSTER : SINGLE_BROKER,
    llm: { latencyMs: o.llmLatencyMs },
    // Enough prefetch that the LLM latency, not the queue, bounds a worker: rate x latency in flight.
    topology: { prefetch: Math.max(50, Math.ceil((o.ratePerSecond * o.llmLatencyMs) / 1000 / o.workers) * 4) },
  });
  try {
    const apis: ApiProcess[] = [];
    for (let i = 0; i < o.apis; i++) apis.push(await scenario.startApi(`api-${i + 1}`, await freePort()));
    const workers: ManagedProcess[] = [];
    for (let i = 0; i < o.workers; i++) workers.push(await scenario.startWorker(`worker-${i + 1}`));
    const procs = [...apis.map((a) => a.proc), ...workers];
    log(`soak: ${o.apis} API + ${o.workers} worker processes, ${o.ratePerSecond} jobs/s for ${Math.round(o.durationMs / 1000)} s, fake LLM ${o.llmLatencyMs} ms, ${o.cluster ? 'local 3-node cluster' : 'single broker'}`);

    const samples = new Map<string, { t: number; v: number }[]>(procs.map((p) => [p.name, []]));
    const sample = () => {
      const t = Date.now();
      for (const p of procs) {
        const rss = p.rssBytes();
        if (rss !== undefined) samples.get(p.name)?.push({ t, v: rss / MiB });
      }
    };
    const submitStart = new Map<string, number>();
    const httpMs: number[] = [];
    const started = Date.now();
    const timer = setInterval(() => {
      sample();
      const r = scenario.ledger.report();
      log(`  ${Math.round((Date.now() - started) / 1000)} s: accepted ${r.accepted}, finished ${r.finished}, pending ${scenario.ledger.pending()}`);
    }, o.sampleEveryMs);
    const summary = await scenario.load({
      submit: scenario.submitter(() => apis.map((a) => a.url)),
      ratePerSecond: o.ratePerSecond,
      durationMs: o.durationMs,
      maxInFlight: 256,
      onResult: (_seq, result, elapsedMs) => {
        if (result.kind !== 'accepted') return;
        httpMs.push(elapsedMs);
        submitStart.set(result.jobId, Date.now() - elapsedMs);
      },
    });
    const loadEnded = Date.now();
    await scenario.observer.settle(120_000, 500);
    sample();
    clearInterval(timer);

    const e2e: number[] = [];
    let lastFinish = started;
    for (const [id, t0] of submitStart) {
      const t1 = scenario.observer.firstFinishAt(id);
      if (t1 === undefined) continue;
      e2e.push(t1 - t0);
      lastFinish = Math.max(lastFinish, t1);
    }
    e2e.sort((a, b) => a - b);
    httpMs.sort((a, b) => a - b);
    const memory: ProcessMemory[] = [...samples.entries()].map(([name, points]) => {
      // The first sample is taken after 1 interval of load: start-up allocation is over by then.
      const half = points.filter((p) => p.t >= started + (loadEnded - started) / 2);
      return {
        name,
        startMiB: points[0]?.v ?? Number.NaN,
        endMiB: points[points.length - 1]?.v ?? Number.NaN,
        maxMiB: Math.max(...points.map((p) => p.v)),
        slopeMiBPerMin: slope(half) * 60_000,
      };
    });
    const ledger = scenario.ledger.report();
    return {
      options: o,
      acceptedPerSecond: summary.accepted / (summary.elapsedMs / 1000),
      finishedPerSecond: ledger.finished / ((lastFinish - started) / 1000),
      e2e: { p50: percentile(e2e, 50), p99: percentile(e2e, 99), max: e2e[e2e.length - 1] ?? Number.NaN },
      http: { p50: percentile(httpMs, 50), p99: percentile(httpMs, 99) },
      memory,
      ledger,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await scenario.cleanup();
  }
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** Markdown summary of a soak. */
export function report(r: SoakResult): string {
  const l = r.ledger;
  return [
    `## Soak: ${Math.round(r.options.durationMs / 1000)} s at ${r.options.ratePerSecond} jobs/s (${r.options.apis} API, ${r.options.workers} worker processes, fake LLM ${r.options.llmLatencyMs} ms${r.options.cluster ? ', 3-node cluster' : ''})`,
    '',
    `- throughput: ${r1(r.acceptedPerSecond)} jobs/s accepted, ${r1(r.finishedPerSecond)} jobs/s finished`,
    `- end-to-end latency (POST -> result on the results stream): p50 ${Math.round(r.e2e.p50)} ms, p99 ${Math.round(r.e2e.p99)} ms, max ${Math.round(r.e2e.max)} ms`,
    `- HTTP 202 latency: p50 ${r1(r.http.p50)} ms, p99 ${r1(r.http.p99)} ms`,
    `- jobs: accepted ${l.accepted} / finished ${l.finished} / duplicates ${l.duplicates} / lost ${l.lost}`,
    '',
    '| process | RSS start (MiB) | RSS end (MiB) | max (MiB) | trend, 2nd half (MiB/min) |',
    '|---|---:|---:|---:|---:|',
    ...r.memory.map((m) => `| ${m.name} | ${r1(m.startMiB)} | ${r1(m.endMiB)} | ${r1(m.maxMiB)} | ${r1(m.slopeMiBPerMin)} |`),
  ].join('\n');
}

/** The soak's figures for bench/REPORT.md (no same-run reference: its targets are absolute). */
export function figures(r: SoakResult): BenchFigure[] {
  const worst = (prefix: string) => Math.max(...r.memory.filter((m) => m.name.startsWith(prefix)).map((m) => m.slopeMiBPerMin));
  return [
    { group: 'soak', name: 'jobs lost', unit: 'jobs', value: r.ledger.lost, target: '0', pass: r.ledger.lost === 0, higherIsBetter: false },
    { group: 'soak', name: 'finished throughput', unit: 'jobs/s', value: r1(r.finishedPerSecond), target: `>= 95% of offered ${r.options.ratePerSecond}/s`, pass: r.finishedPerSecond >= 0.95 * r.options.ratePerSecond },
    { group: 'soak', name: 'end-to-end p50', unit: 'ms', value: Math.round(r.e2e.p50), target: 'reported', pass: true, higherIsBetter: false },
    { group: 'soak', name: 'end-to-end p99', unit: 'ms', value: Math.round(r.e2e.p99), target: 'reported', pass: true, higherIsBetter: false },
    { group: 'soak', name: 'worker RSS trend (2nd half)', unit: 'MiB/min', value: r1(worst('worker')), target: '< 2 MiB/min (no growth trend)', pass: worst('worker') < 2, higherIsBetter: false },
    // The API keeps every job's status in its index (bounded by jobEvents.indexSize), so it grows with jobs seen until that bound.
    { group: 'soak', name: 'API RSS trend (2nd half, status index filling)', unit: 'MiB/min', value: r1(worst('api')), target: 'reported (bounded by jobEvents.indexSize)', pass: true, higherIsBetter: false },
  ];
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const duration = flag('duration');
  const durationMs = duration === undefined ? undefined : parseDuration(duration);
  if (duration !== undefined && durationMs === undefined) {
    console.error(`--duration: not a duration: '${duration}' (e.g. 90s, 5m)`);
    process.exit(2);
  }
  const num = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
  const opts: SoakOptions = { cluster: process.argv.includes('--cluster') };
  if (durationMs !== undefined) opts.durationMs = durationMs;
  const rate = num('rate');
  const apis = num('apis');
  const workers = num('workers');
  const latency = num('latency');
  if (rate !== undefined) opts.ratePerSecond = rate;
  if (apis !== undefined) opts.apis = apis;
  if (workers !== undefined) opts.workers = workers;
  if (latency !== undefined) opts.llmLatencyMs = latency;
  const result = await run(opts);
  console.log(`\n${report(result)}\n`);
  process.exit(result.ledger.lost === 0 ? 0 : 1);
}
