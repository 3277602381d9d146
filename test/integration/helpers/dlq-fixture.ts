import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { createBrokerConnection, type BrokerConnection } from '../../../src/broker/broker-connection.ts';
import { createConfirmPublisher, type ConfirmPublisher } from '../../../src/broker/confirm-publisher.ts';
import { createManagementClient } from '../../../src/broker/management-client.ts';
import { parseTopology } from '../../../src/config/load-topology.ts';
import type { Topology } from '../../../src/config/topology-schema.ts';
import { createDlqService, type DlqDeps, type DlqService } from '../../../src/dlq/index.ts';
import { HEADERS } from '../../../src/jobs/headers.ts';
import { TEST_AMQP_BASE } from './broker-env.ts';
import type { TestVhost } from './test-vhost.ts';

/**
 * A small DLQ world for the dlq-* integration tests: a topic exchange `jobs`
 * feeding work queues of every dead-letter kind, a direct DLX `dlx` into the
 * quorum DLQ `dead`, a retry wait queue, a headers exchange that fans out, and
 * routes. Objects are declared with plain amqplib (arguments, not policies).
 */
export const DLQ_TOPOLOGY = (vh: TestVhost, management = vh.managementUrl) => `
version: 1
connection:
  urls: ["${TEST_AMQP_BASE}"]
  management: "${management}"
  vhost: "${vh.vhost}"
exchanges:
  jobs: { type: topic }
  dlx: { type: direct }
  docs: { type: headers }
queues:
  work.a: { type: classic, deadLetter: { exchange: dlx, routingKey: dead }, retry: quick }
  work.q: { type: quorum, deadLetter: { exchange: dlx, routingKey: dead }, deliveryLimit: 1 }
  work.ttl: { type: classic, deadLetter: { exchange: dlx, routingKey: dead }, messageTtl: 50ms }
  work.max: { type: classic, deadLetter: { exchange: dlx, routingKey: dead }, maxLength: 1, overflow: drop-head }
  fallback: { type: classic, deadLetter: { exchange: dlx, routingKey: dead } }
  docs.pdf: { type: classic, deadLetter: { exchange: dlx, routingKey: dead } }
  docs.big: { type: classic, deadLetter: { exchange: dlx, routingKey: dead } }
  dead: { type: quorum }
  not.a.dlq: { type: classic }
bindings:
  - { source: jobs, queue: work.a, routingKey: "a.#" }
  - { source: jobs, queue: work.q, routingKey: "q.#" }
  - { source: jobs, queue: work.ttl, routingKey: "ttl.#" }
  - { source: jobs, queue: work.max, routingKey: "max.#" }
  - { source: jobs, queue: fallback, routingKey: "fallback.#" }
  - { source: docs, queue: docs.pdf, headers: { match: all, values: { format: pdf } } }
  - { source: docs, queue: docs.big, headers: { match: all, values: { size: big } } }
  - { source: dlx, queue: dead, routingKey: dead }
retryPolicies:
  quick: { attempts: 3, backoff: [50ms] }
routes:
  a: { exchange: jobs, routingKey: "a.{kind}", schema: task, defaults: { kind: chat } }
  fallback: { exchange: jobs, routingKey: "fallback.{type}", schema: task }
`;

/** Declares the topology above on the broker. */
export async function declareDlqWorld(ch: amqplib.Channel): Promise<void> {
  const dl = { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' };
  await ch.assertExchange('jobs', 'topic');
  await ch.assertExchange('dlx', 'direct');
  await ch.assertExchange('docs', 'headers');
  await ch.assertQueue('dead', { arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue('dead', 'dlx', 'dead');
  await ch.assertQueue('work.a', { arguments: dl });
  await ch.assertQueue('work.a.retry.50ms', { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'work.a' } });
  await ch.assertQueue('work.q', { arguments: { ...dl, 'x-queue-type': 'quorum', 'x-delivery-limit': 1 } });
  await ch.assertQueue('work.ttl', { arguments: { ...dl, 'x-message-ttl': 50 } });
  await ch.assertQueue('work.max', { arguments: { ...dl, 'x-max-length': 1, 'x-overflow': 'drop-head' } });
  await ch.assertQueue('fallback', { arguments: dl });
  await ch.assertQueue('docs.pdf', { arguments: dl });
  await ch.assertQueue('docs.big', { arguments: dl });
  await ch.assertQueue('not.a.dlq');
  for (const [q, key] of [['work.a', 'a.#'], ['work.q', 'q.#'], ['work.ttl', 'ttl.#'], ['work.max', 'max.#'], ['fallback', 'fallback.#']] as const) await ch.bindQueue(q, 'jobs', key);
  await ch.bindQueue('docs.pdf', 'docs', '', { 'x-match': 'all', format: 'pdf' });
  await ch.bindQueue('docs.big', 'docs', '', { 'x-match': 'all', size: 'big' });
}

/** Writes the topology to a temp file and returns its path and parsed form. */
export function writeDlqTopology(vh: TestVhost, management?: string): { file: string; topology: Topology; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'warren-dlq-'));
  const file = join(dir, 'topology.yaml');
  const text = DLQ_TOPOLOGY(vh, management);
  writeFileSync(file, text);
  return { file, dir, topology: parseTopology(text, file, { checkHandlers: false }).topology };
}

/** Headers a warren worker puts on a dead letter it publishes to the DLX itself. */
export function warrenDeadLetterHeaders(o: { exchange: string; routingKey: string; queue: string; errorClass: string; reason?: string; attempts?: number; failedAt?: Date; route?: string; requeued?: number }): Record<string, unknown> {
  return {
    [HEADERS.originExchange]: o.exchange,
    [HEADERS.originRoutingKey]: o.routingKey,
    [HEADERS.originQueue]: o.queue,
    [HEADERS.errorClass]: o.errorClass,
    [HEADERS.errorMessage]: `${o.errorClass}: provider said no`,
    [HEADERS.reason]: o.reason ?? o.errorClass,
    [HEADERS.attempts]: o.attempts ?? 3,
    [HEADERS.attempt]: o.attempts ?? 3,
    [HEADERS.failedAt]: (o.failedAt ?? new Date()).toISOString(),
    ...(o.route === undefined ? {} : { [HEADERS.route]: o.route }),
    ...(o.requeued === undefined ? {} : { [HEADERS.requeued]: o.requeued }),
  };
}

/** Drains a queue (noAck) and returns its messages in order. */
export async function drain(ch: amqplib.Channel, queue: string): Promise<amqplib.GetMessage[]> {
  const out: amqplib.GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) return out;
    out.push(m);
  }
}

/** Message ids in a queue, in order, without removing them (get, then nack-requeue each in order, then close). */
export async function peekIds(conn: amqplib.ChannelModel, queue: string): Promise<string[]> {
  const ch = await conn.createChannel();
  const ids: string[] = [];
  const got: amqplib.GetMessage[] = [];
  const { messageCount } = await ch.checkQueue(queue);
  for (let i = 0; i < messageCount; i++) {
    const m = await ch.get(queue, { noAck: false });
    if (!m) break;
    ids.push(String(m.properties.messageId));
    got.push(m);
  }
  // Nacks in chunks of 32, each ready again before the next: a 3.10 quorum queue settles a batch in map
  // order, and on a busy broker merges returns queued behind one it hasn't applied yet (as the DLQ reader does).
  const until = Date.now() + 10_000;
  for (let i = 0; i < got.length; i += 32) {
    const chunk = got.slice(i, i + 32);
    for (const m of chunk) ch.nack(m, false, true);
    while ((await ch.checkQueue(queue)).messageCount < messageCount - got.length + i + chunk.length && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
  await ch.close();
  return ids;
}

export { waitForCount } from './queue-depth.ts';

/** A DLQ service wired to the test vhost. */
export interface DlqHarness {
  service: DlqService;
  deps: DlqDeps;
  connection: BrokerConnection;
  publisher: ConfirmPublisher;
  close(): Promise<void>;
}

export async function createDlqHarness(vh: TestVhost, topology: Topology, extra: Partial<DlqDeps> = {}): Promise<DlqHarness> {
  const connection = createBrokerConnection({ urls: [TEST_AMQP_BASE], vhost: vh.vhost, name: `dlq-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}` });
  await connection.waitForConnection(5_000);
  const publisher = createConfirmPublisher({ connection, channels: 1 });
  const deps: DlqDeps = { connection, publisher, management: createManagementClient({ url: topology.connection.management }), topology, ...extra };
  return {
    service: createDlqService(deps),
    deps,
    connection,
    publisher,
    async close() {
      await publisher.close();
      await connection.close();
    },
  };
}
