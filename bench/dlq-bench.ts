/**
 * DLQ requeue benchmark: `warren dlq requeue` over N broker dead letters against what operators use
 * instead, the management UI's "Move messages" (a dynamic shovel, `ack-mode: on-confirm`, created
 * through the management API with the same definition the UI sends), over the same messages, in the
 * same run, on the same broker. Target: warren >= 50% of the shovel's rate.
 *
 * The shovel and warren take turns over `DLQ_BENCH_ROUNDS` rounds (default 3, each on a fresh fill of
 * the DLQ); each figure is the median of its rounds, so a burst of load on a shared machine moves one
 * round, not the verdict.
 *
 * Informational, also in the same run: a bare amqplib get / publish-with-confirm / ack loop (one
 * message at a time: the per-message round trip, over `DLQ_BENCH_BARE_MESSAGES`, default 2,000) and,
 * when `DLQ_BENCH_BASELINE` names another warren checkout (e.g. main unpacked into /tmp), that
 * checkout's requeue in every round, for a before/after figure measured under the same load.
 *
 *   node --import tsx bench/dlq-bench.ts            (20,000 messages, 3 rounds)
 *   DLQ_BENCH_MESSAGES=5000 DLQ_BENCH_ROUNDS=1 node --import tsx bench/dlq-bench.ts
 *
 * Uses its own vhost (deleted afterwards) on WARREN_BENCH_AMQP_URL / WARREN_BENCH_MANAGEMENT_URL
 * (default: the local broker, guest/guest).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { createBrokerConnection } from '../src/broker/broker-connection.ts';
import { createConfirmPublisher } from '../src/broker/confirm-publisher.ts';
import { createManagementClient, seg, type ManagementClient } from '../src/broker/management-client.ts';
import { parseTopology } from '../src/config/load-topology.ts';
import type { Topology } from '../src/config/topology-schema.ts';
import { createDlqService, createFileJournal, type DlqDeps, type DlqService } from '../src/dlq/index.ts';
import { deleteVhostWithEventKey } from '../src/jobs/job-event-key.ts';

const AMQP = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** One side of the comparison: the median round, and every round's rate. */
export interface Rate {
  messages: number;
  seconds: number;
  perSecond: number;
  /** msg/s of each round, in order. */
  rounds?: number[];
}

/** Figures of one benchmark run. */
export interface DlqBenchResult {
  name: 'dlq-requeue';
  messages: number;
  /** Rounds each side ran; every figure is the median round. */
  rounds: number;
  queueType: 'quorum';
  /** The reference: the management UI's "Move messages" shovel (ack-mode on-confirm), same messages, same run. */
  shovel: Rate;
  warren: Rate;
  /** Informational: one message at a time, get -> publish -> wait for the confirm -> ack (a smaller sample). */
  bare: Rate;
  /** Informational: another checkout's requeue (`DLQ_BENCH_BASELINE`), same messages, same run. */
  baseline: (Rate & { source: string }) | undefined;
  /** warren.perSecond / shovel.perSecond */
  ratio: number;
  target: number;
  pass: boolean;
}

function rate(messages: number, ms: number): Rate {
  return { messages, seconds: Math.round(ms) / 1000, perSecond: Math.round((messages / ms) * 1000) };
}

/** The median round (the lower middle one for an even count), with every round's rate. */
function median(runs: Rate[]): Rate {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as Rate;
  return { ...mid, rounds: runs.map((r) => r.perSecond) };
}

async function waitForCount(ch: amqplib.Channel, queue: string, count: number, pollMs = 100): Promise<void> {
  const until = Date.now() + 300_000;
  while ((await ch.checkQueue(queue)).messageCount !== count) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${count} messages in ${queue}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Publishes `n` jobs into `work`, then rejects them all so the broker dead-letters them into `dead`. */
async function fillDeadLetters(conn: amqplib.ChannelModel, n: number, body: Buffer): Promise<void> {
  const ch = await conn.createConfirmChannel();
  await ch.purgeQueue('work');
  for (let i = 0; i < n; i++) {
    ch.publish('jobs', 'work.chat', body, { messageId: `job-${i}`, persistent: true, contentType: 'application/json' });
    if (i % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await waitForCount(ch, 'work', n);
  const consumer = await conn.createChannel();
  await consumer.prefetch(1000);
  await consumer.consume('work', (m) => m && consumer.nack(m, false, false));
  await waitForCount(ch, 'dead', n);
  await consumer.close();
  await ch.purgeQueue('work');
  await ch.close();
}

/**
 * The reference: what the management UI's queue page sends for "Move messages" (shovel_management's
 * `#/shovel-parameters-move-messages` form), timed from the PUT until the destination holds all `n`.
 */
async function shovelMove(management: ManagementClient, conn: amqplib.ChannelModel, vhost: string, n: number): Promise<number> {
  const name = `Move from dead`;
  const path = `/parameters/shovel/${seg(vhost)}/${seg(name)}`;
  const ch = await conn.createChannel();
  const t0 = performance.now();
  await management.put(path, {
    component: 'shovel',
    vhost,
    name,
    value: {
      'src-uri': `amqp:///${encodeURIComponent(vhost)}`,
      'src-queue': 'dead',
      'src-protocol': 'amqp091',
      'src-prefetch-count': 1000,
      'src-delete-after': 'queue-length',
      'dest-protocol': 'amqp091',
      'dest-uri': `amqp:///${encodeURIComponent(vhost)}`,
      'dest-add-forward-headers': false,
      'ack-mode': 'on-confirm',
      'dest-queue': 'work',
    },
  });
  try {
    // A fine poll: at ~28,000 msg/s the whole move takes under a second.
    await waitForCount(ch, 'work', n, 5);
    return performance.now() - t0;
  } finally {
    await ch.close().catch(() => undefined);
    // With `src-delete-after: queue-length` it usually removed itself already.
    await management.delete(path, { ignoreNotFound: true });
  }
}

/** Informational: one message at a time, get -> publish to its x-death origin -> wait for the confirm -> ack. */
async function bareLoop(conn: amqplib.ChannelModel, n: number): Promise<number> {
  const ch = await conn.createConfirmChannel();
  let moved = 0;
  for (;;) {
    const m = await ch.get('dead', { noAck: false });
    if (!m) break;
    const death = (m.properties.headers?.['x-death'] as Array<{ exchange: string; 'routing-keys': string[] }> | undefined)?.[0];
    await new Promise<void>((resolve, reject) =>
      ch.publish(death?.exchange ?? '', death?.['routing-keys'][0] ?? 'work', m.content, { ...m.properties, mandatory: true }, (err) => (err ? reject(err) : resolve())),
    );
    ch.ack(m);
    moved++;
  }
  await ch.close();
  if (moved !== n) throw new Error(`bare loop moved ${moved} of ${n}`);
  return moved;
}

/** What the bench needs of a checkout's src/dlq (this one, or the baseline's). */
interface DlqModule {
  createDlqService: (deps: DlqDeps) => DlqService;
  createFileJournal: (file: string) => NonNullable<ReturnType<NonNullable<DlqDeps['journal']>>>;
}

/** One `warren dlq requeue` of the whole DLQ (journal on, one publish channel), with the service and journal of one checkout. */
async function warrenRequeue(dlq: DlqModule, topology: Topology, management: ManagementClient, stateDir: string, n: number): Promise<Rate> {
  const vhost = topology.connection.vhost;
  const connection = createBrokerConnection({ urls: [AMQP], vhost, name: 'warren-dlq-bench' });
  await connection.waitForConnection(10_000);
  const publisher = createConfirmPublisher({ connection, channels: 1 });
  const service = dlq.createDlqService({ connection, publisher, management, topology, journal: (vh, q) => dlq.createFileJournal(join(stateDir, `${vh}-${q}.journal`)) });
  const t = performance.now();
  // A bench that hangs reports nothing: give up after five minutes.
  let timer: NodeJS.Timeout | undefined;
  const report = await Promise.race([
    service.requeue('dead', { filter: {} }),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('warren requeue did not finish within 5 minutes')), 300_000))),
  ]).finally(() => clearTimeout(timer));
  const r = rate(report.moved, performance.now() - t);
  await publisher.close();
  await connection.close();
  if (report.moved !== n || report.failed !== 0) throw new Error(`warren requeue moved ${report.moved}, failed ${report.failed} of ${n}`);
  return r;
}

/** Runs the benchmark and returns the figures (also printed when run standalone). */
export async function run(options: { messages?: number; rounds?: number; bareMessages?: number; baseline?: string; log?: (s: string) => void } = {}): Promise<DlqBenchResult> {
  const n = options.messages ?? Number(process.env.DLQ_BENCH_MESSAGES ?? 20_000);
  const rounds = Math.max(1, options.rounds ?? Number(process.env.DLQ_BENCH_ROUNDS ?? 3));
  const bareN = Math.min(n, options.bareMessages ?? Number(process.env.DLQ_BENCH_BARE_MESSAGES ?? 2_000));
  const baselineDir = options.baseline ?? process.env.DLQ_BENCH_BASELINE;
  const log = options.log ?? ((s: string) => console.error(s));
  const management = createManagementClient({ url: MANAGEMENT, timeoutMs: 60_000 });
  const vhost = `warren-bench-dlq-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const stateDir = mkdtempSync(join(tmpdir(), 'warren-dlq-bench-'));
  // TCP_NODELAY: without it every get/confirm round trip waits out delayed ACKs (~40 ms).
  const conn = await amqplib.connect(`${AMQP}/${seg(vhost)}`, { noDelay: true });
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange('jobs', 'topic');
    await ch.assertExchange('dlx', 'direct');
    await ch.assertQueue('dead', { arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue('dead', 'dlx', 'dead');
    await ch.assertQueue('work', { arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' } });
    await ch.bindQueue('work', 'jobs', 'work.#');
    await ch.close();
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(959) }] }));
    const topology = parseTopology(
      `version: 1
connection: { urls: ["${AMQP}"], management: "${MANAGEMENT}", vhost: "${vhost}" }
exchanges: { jobs: { type: topic }, dlx: { type: direct } }
queues:
  work: { type: quorum, deadLetter: { exchange: dlx, routingKey: dead } }
  dead: { type: quorum }
bindings:
  - { source: jobs, queue: work, routingKey: "work.#" }
  - { source: dlx, queue: dead, routingKey: dead }
`,
      'bench-topology.yaml',
      { checkHandlers: false },
    ).topology;

    log(`dlq-bench: ${n} dead letters of ${body.length} bytes (quorum DLQ -> quorum origin), ${rounds} round(s), vhost ${vhost}`);
    const baselineModule = baselineDir === undefined ? undefined : ((await import(pathToFileURL(join(resolve(baselineDir), 'src/dlq/index.ts')).href)) as DlqModule);
    const runs: { shovel: Rate[]; warren: Rate[]; baseline: Rate[] } = { shovel: [], warren: [], baseline: [] };
    const sides: Array<{ name: keyof typeof runs; label: string; measure: () => Promise<Rate> }> = [
      { name: 'shovel', label: 'management UI "Move messages" shovel (on-confirm)', measure: async () => rate(n, await shovelMove(management, conn, vhost, n)) },
      { name: 'warren', label: 'warren dlq requeue', measure: () => warrenRequeue({ createDlqService, createFileJournal }, topology, management, stateDir, n) },
    ];
    if (baselineModule) sides.push({ name: 'baseline', label: `warren dlq requeue, baseline ${resolve(baselineDir as string)}`, measure: () => warrenRequeue(baselineModule, topology, management, stateDir, n) });
    for (let round = 0; round < rounds; round++) {
      // Each side goes first in turn: load that drifts during a round doesn't favour one of them.
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length] as (typeof sides)[number];
        await fillDeadLetters(conn, n, body);
        const r = await side.measure();
        runs[side.name].push(r);
        log(`  round ${round + 1}: ${side.label}: ${r.perSecond}/s (${r.seconds}s)`);
      }
    }
    const shovel = median(runs.shovel);
    const warren = median(runs.warren);
    const baseline: DlqBenchResult['baseline'] = baselineModule ? { ...median(runs.baseline), source: resolve(baselineDir as string) } : undefined;

    await fillDeadLetters(conn, bareN, body);
    const t = performance.now();
    await bareLoop(conn, bareN);
    const bare = rate(bareN, performance.now() - t);
    log(`  bare amqplib get/publish-confirm/ack loop (${bareN}, informational): ${bare.perSecond}/s (${bare.seconds}s)`);

    const ratio = Math.round((warren.perSecond / shovel.perSecond) * 100) / 100;
    log(`  medians: shovel ${shovel.perSecond}/s, warren ${warren.perSecond}/s${baseline ? `, baseline ${baseline.perSecond}/s` : ''}`);
    log(`  warren / shovel ${ratio} (target >= 0.5)${baseline ? `; baseline / shovel ${Math.round((baseline.perSecond / shovel.perSecond) * 100) / 100}` : ''}`);
    return { name: 'dlq-requeue', messages: n, rounds, queueType: 'quorum', shovel, warren, bare, baseline, ratio, target: 0.5, pass: ratio >= 0.5 };
  } finally {
    await conn.close().catch(() => undefined);
    await deleteVhostWithEventKey(management, vhost);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.pass ? 0 : 1;
}
