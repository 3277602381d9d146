/**
 * DLQ requeue benchmark: `warren dlq requeue` over N broker dead letters vs a
 * bare amqplib get / publish-with-confirm / ack loop over the same messages,
 * both in the same run on the same broker. Target: warren >= 50% of the bare rate.
 *
 *   node --import tsx bench/dlq-bench.ts            (20,000 messages)
 *   DLQ_BENCH_MESSAGES=5000 node --import tsx bench/dlq-bench.ts
 *
 * Uses its own vhost (deleted afterwards) on WARREN_BENCH_AMQP_URL / WARREN_BENCH_MANAGEMENT_URL
 * (default: the local broker, guest/guest).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import amqplib from 'amqplib';
import { createBrokerConnection } from '../src/broker/broker-connection.ts';
import { createConfirmPublisher } from '../src/broker/confirm-publisher.ts';
import { createManagementClient, seg } from '../src/broker/management-client.ts';
import { parseTopology } from '../src/config/load-topology.ts';
import { createDlqService, createFileJournal } from '../src/dlq/index.ts';

const AMQP = process.env.WARREN_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT = process.env.WARREN_BENCH_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** One side of the comparison. */
export interface Rate {
  messages: number;
  seconds: number;
  perSecond: number;
}

/** Figures of one benchmark run. */
export interface DlqBenchResult {
  name: 'dlq-requeue';
  messages: number;
  queueType: 'quorum';
  bare: Rate;
  warren: Rate;
  /** warren.perSecond / bare.perSecond */
  ratio: number;
  target: number;
  pass: boolean;
}

function rate(messages: number, ms: number): Rate {
  return { messages, seconds: Math.round(ms) / 1000, perSecond: Math.round((messages / ms) * 1000) };
}

async function waitForCount(ch: amqplib.Channel, queue: string, count: number): Promise<void> {
  const until = Date.now() + 120_000;
  while ((await ch.checkQueue(queue)).messageCount !== count) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${count} messages in ${queue}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Publishes `n` jobs into `work`, then rejects them all so the broker dead-letters them into `dead`. */
async function fillDeadLetters(conn: amqplib.ChannelModel, n: number, body: Buffer): Promise<void> {
  const ch = await conn.createConfirmChannel();
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

/** The reference: one message at a time, get -> publish to its x-death origin -> wait for the confirm -> ack. */
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

/** Runs the benchmark and returns the figures (also printed when run standalone). */
export async function run(options: { messages?: number; log?: (s: string) => void } = {}): Promise<DlqBenchResult> {
  const n = options.messages ?? Number(process.env.DLQ_BENCH_MESSAGES ?? 20_000);
  const log = options.log ?? ((s: string) => console.error(s));
  const management = createManagementClient({ url: MANAGEMENT, timeoutMs: 60_000 });
  const vhost = `warren-bench-dlq-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const stateDir = mkdtempSync(join(tmpdir(), 'warren-dlq-bench-'));
  // TCP_NODELAY: without it every get/confirm round trip waits out delayed ACKs (~40 ms), which would flatter warren.
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
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(400) }] }));

    log(`dlq-bench: ${n} dead letters (quorum DLQ -> quorum origin), vhost ${vhost}`);
    await fillDeadLetters(conn, n, body);
    let t = performance.now();
    await bareLoop(conn, n);
    const bare = rate(n, performance.now() - t);
    log(`  bare amqplib get/publish-confirm/ack loop: ${bare.perSecond}/s (${bare.seconds}s)`);

    const drain = await conn.createChannel();
    await drain.purgeQueue('work');
    await drain.close();
    await fillDeadLetters(conn, n, body);
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
    const connection = createBrokerConnection({ urls: [AMQP], vhost, name: 'warren-dlq-bench' });
    await connection.waitForConnection(10_000);
    const publisher = createConfirmPublisher({ connection, channels: 1 });
    const service = createDlqService({ connection, publisher, management, topology, journal: (vh, q) => createFileJournal(join(stateDir, `${vh}-${q}.journal`)) });
    t = performance.now();
    const report = await service.requeue('dead', { filter: {} });
    const warren = rate(report.moved, performance.now() - t);
    await publisher.close();
    await connection.close();
    if (report.moved !== n || report.failed !== 0) throw new Error(`warren requeue moved ${report.moved}, failed ${report.failed} of ${n}`);
    log(`  warren dlq requeue:                        ${warren.perSecond}/s (${warren.seconds}s)`);
    const ratio = Math.round((warren.perSecond / bare.perSecond) * 100) / 100;
    log(`  ratio ${ratio} (target >= 0.5)`);
    return { name: 'dlq-requeue', messages: n, queueType: 'quorum', bare, warren, ratio, target: 0.5, pass: ratio >= 0.5 };
  } finally {
    await conn.close().catch(() => undefined);
    await management.delete(`/vhosts/${seg(vhost)}`, { ignoreNotFound: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.pass ? 0 : 1;
}
