/**
 * Topology benchmark: a vhost with 500 queues and 1,000 bindings.
 * Measures `warren topology plan` on the empty broker, `apply` from scratch,
 * then `plan` and a no-op `apply` on the applied broker (targets: plan < 5 s,
 * no-op apply < 10 s). Run: node --import tsx bench/topology-bench.ts
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { captureIo } from '../src/cli/cli-test-io.test-support.ts';
import { runCli } from '../src/cli/program.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

/** Figures of one run, in milliseconds unless named otherwise. */
export interface TopologyBenchResult {
  bench: 'topology';
  queues: number;
  bindings: number;
  policies: number;
  /** `topology plan` against the empty vhost (in process). */
  planEmptyMs: number;
  /** `topology apply` from scratch. */
  applyFromScratchMs: number;
  /** Management API writes of that apply. */
  applyWrites: number;
  /** `topology plan` against the applied vhost (in process). */
  planAppliedMs: number;
  /** `topology apply` with nothing to do (in process). */
  noopApplyMs: number;
  /** `node bin/warren.js topology plan` as a user runs it: process start, loading dist/, read, plan. */
  planProcessMs: number;
  targets: { planMs: number; noopApplyMs: number };
  pass: boolean;
}

const QUEUES = 500;
const BINDINGS = 1000;
const TOPIC_EXCHANGES = 10;

/** A topology with exactly QUEUES queues and BINDINGS bindings once warren's job-event stream and binding are counted. */
function benchTopology(vhost: string, managementUrl: string): Record<string, unknown> {
  const exchanges: Record<string, unknown> = { 'bench.dlx': { type: 'direct' } };
  for (let i = 0; i < TOPIC_EXCHANGES; i++) exchanges[`bench.ex.${i}`] = { type: 'topic' };

  const queues: Record<string, unknown> = { 'bench.dead': { type: 'classic' } };
  const workQueues = QUEUES - 2; // + bench.dead + warren.events.log
  const names: string[] = [];
  for (let i = 0; i < workQueues; i++) {
    const name = `bench.q.${String(i).padStart(3, '0')}`;
    names.push(name);
    // One in ten is a quorum queue, like a gateway's urgent tiers.
    queues[name] = i % 10 === 0 ? { type: 'quorum', deadLetter: { exchange: 'bench.dlx', routingKey: 'dead' }, deliveryLimit: 5 } : { type: 'classic', deadLetter: { exchange: 'bench.dlx', routingKey: 'dead' }, messageTtl: '1h' };
  }

  const bindings: Record<string, unknown>[] = [{ source: 'bench.dlx', queue: 'bench.dead', routingKey: 'dead' }];
  const workBindings = BINDINGS - 2; // + the DLX binding + the job-event binding
  for (let i = 0; i < workBindings; i++) {
    const queue = names[i % names.length] as string;
    bindings.push({ source: `bench.ex.${i % TOPIC_EXCHANGES}`, queue, routingKey: `${queue}.k${Math.floor(i / names.length)}.#` });
  }
  return { version: 1, connection: { vhost, management: managementUrl }, exchanges, queues, bindings };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, Math.round(performance.now() - started)];
}

/** Runs the benchmark against the broker at WARREN_BENCH_MANAGEMENT_URL (default local guest) and returns its figures. */
export async function run(): Promise<TopologyBenchResult> {
  const managementUrl = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
  const management = createManagementClient({ url: managementUrl, timeoutMs: 60_000 });
  const vhost = `warren-bench-topology-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, stringify(benchTopology(vhost, managementUrl)));
  await management.put(`/vhosts/${seg(vhost)}`, {});

  async function cli(...args: string[]): Promise<Record<string, unknown>> {
    const io = captureIo();
    const code = await runCli(['-f', file, '--json', 'topology', ...args], { io, env: {} });
    const doc = JSON.parse(io.out()) as Record<string, unknown> & { error?: { message: string } };
    if (code !== 0 && code !== 2) throw new Error(`warren topology ${args.join(' ')} exited ${code}: ${doc.error?.message ?? io.err()}`);
    return doc;
  }

  try {
    const [emptyPlan, planEmptyMs] = await timed(() => cli('plan'));
    const [applied, applyFromScratchMs] = await timed(() => cli('apply'));
    const [appliedPlan, planAppliedMs] = await timed(() => cli('plan'));
    const [noop, noopApplyMs] = await timed(() => cli('apply'));
    if (appliedPlan.inSync !== true) throw new Error('plan after apply is not empty: the benchmark topology did not apply cleanly');
    if ((noop.applied as { writes: number }).writes !== 0) throw new Error('no-op apply wrote to the broker');

    const bin = resolve(import.meta.dirname, '../bin/warren.js');
    const [, planProcessMs] = await timed(() => promisify(execFile)(process.execPath, [bin, '-f', file, '--json', 'topology', 'plan'], { timeout: 60_000 }));

    const summary = emptyPlan.summary as { create: number };
    const steps = emptyPlan.steps as { object: string }[];
    const targets = { planMs: 5_000, noopApplyMs: 10_000 };
    const result: TopologyBenchResult = {
      bench: 'topology',
      queues: steps.filter((s) => s.object === 'queue').length,
      bindings: steps.filter((s) => s.object === 'binding').length,
      policies: steps.filter((s) => s.object === 'policy').length,
      planEmptyMs,
      applyFromScratchMs,
      applyWrites: (applied.applied as { writes: number }).writes,
      planAppliedMs,
      noopApplyMs,
      planProcessMs,
      targets,
      pass: Math.max(planEmptyMs, planAppliedMs, planProcessMs) < targets.planMs && noopApplyMs < targets.noopApplyMs,
    };
    if (summary.create !== result.applyWrites) throw new Error(`planned ${summary.create} creates but apply wrote ${result.applyWrites}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // A failed cleanup must not hide the error that stopped the run.
    await deleteVhostWithEventKey(management, vhost).catch((err: unknown) => {
      console.error(`warning: could not delete vhost ${vhost}: ${(err as Error).message}`);
    });
  }
}

/** Prints the figures as one JSON line and a human summary. */
export function report(r: TopologyBenchResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [
    JSON.stringify(r),
    `topology bench: ${r.queues} queues, ${r.bindings} bindings, ${r.policies} policies`,
    `  plan, empty broker      ${s(r.planEmptyMs)}`,
    `  apply from scratch      ${s(r.applyFromScratchMs)} (${r.applyWrites} writes)`,
    `  plan, applied broker    ${s(r.planAppliedMs)}   (target < ${s(r.targets.planMs)})`,
    `  plan, as a new process  ${s(r.planProcessMs)}   (target < ${s(r.targets.planMs)})`,
    `  no-op apply             ${s(r.noopApplyMs)}   (target < ${s(r.targets.noopApplyMs)})`,
    `  ${r.pass ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run();
  console.log(report(result));
  process.exitCode = result.pass ? 0 : 1;
}
