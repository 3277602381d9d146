import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import { captureIo } from '../../src/cli/cli-test-io.test-support.ts';
import { runCli } from '../../src/cli/program.ts';
import { TEST_AMQP_BASE, TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { waitForCount } from './helpers/dlq-fixture.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { applyOn, SHIPPED_TOPOLOGY, shippedTopology, waitFor, yamlTopology } from './helpers/topology.ts';

/** Two dead-letter queues of our own: a delivery limit of 5 (in reach from the start) and of 101 (one read from it). */
const LIMITS_YAML = (vh: TestVhost) => `
connection: { urls: ["${TEST_AMQP_BASE}"], management: "${TEST_MANAGEMENT_URL}", vhost: "${vh.vhost}" }
exchanges:
  dlx: { type: direct }
queues:
  work.low: { type: classic, deadLetter: { exchange: dlx, routingKey: low } }
  work.near: { type: classic, deadLetter: { exchange: dlx, routingKey: near } }
  low.dead: { type: quorum, deliveryLimit: 5 }
  near.dead: { type: quorum, deliveryLimit: 101 }
bindings:
  - { source: dlx, queue: low.dead, routingKey: low }
  - { source: dlx, queue: near.dead, routingKey: near }
`;

/**
 * `warren dlq list` warns about a quorum DLQ's delivery limit only when it can drop dead letters that
 * are merely being read (RabbitMQ before 4.3 counts each read's return as a delivery): never on the
 * shipped llm.dead, whose limit the shipped topology sets out of reach.
 */
describe('dlq list and the delivery limit of a quorum DLQ (real broker, RabbitMQ < 4.3)', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let dir: string;
  let limitsFile: string;

  beforeAll(async () => {
    vh = await createTestVhost('dlq-limit');
    await applyOn(shippedTopology(vh), vh.management);
    await applyOn(yamlTopology(LIMITS_YAML(vh), vh), vh.management);
    dir = mkdtempSync(join(tmpdir(), 'warren-dlq-limit-'));
    limitsFile = join(dir, 'topology.yaml');
    writeFileSync(limitsFile, `version: 1\n${LIMITS_YAML(vh)}`);
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
    for (const [exchange, key] of [['llm.dlx', 'llm.dead'], ['dlx', 'low'], ['dlx', 'near']] as const) {
      ch.publish(exchange, key, Buffer.from('{"type":"x"}'), { messageId: `dead-${key}`, persistent: true, headers: { 'x-first-death-queue': 'llm.standard', 'x-first-death-reason': 'rejected' } });
    }
    await ch.waitForConfirms();
    await waitForCount(ch, 'llm.dead', 1);
    // The management API shows a new policy on a queue some seconds after it was applied; the
    // shipped limit must be visible there, or the first test would pass for the wrong reason.
    await waitFor('llm.dead to show its delivery-limit policy', async () => {
      const q = await vh.management.get<{ effective_policy_definition?: Record<string, unknown> }>(`/queues/${seg(vh.vhost)}/llm.dead`);
      return q.effective_policy_definition?.['delivery-limit'] === 1_000_000 ? true : undefined;
    });
  });

  afterAll(async () => {
    await conn?.close();
    await vh?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `warren --json dlq list <queue>` with the shipped file's variables pointed at the test vhost. */
  async function list(file: string, queue: string): Promise<{ summary: { matched: number }; warnings: string[] }> {
    const io = captureIo();
    const env = { ...process.env, WARREN_AMQP_URL: TEST_AMQP_BASE, WARREN_MANAGEMENT_URL: TEST_MANAGEMENT_URL, WARREN_VHOST: vh.vhost, XDG_STATE_HOME: join(dir, 'state') };
    const code = await runCli(['-f', file, '--json', 'dlq', 'list', queue], { io, env });
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    return JSON.parse(io.out()) as { summary: { matched: number }; warnings: string[] };
  }

  it('the shipped topology.yaml: repeated lists of llm.dead never warn about its delivery limit', async () => {
    for (let run = 0; run < 3; run++) {
      const listing = await list(SHIPPED_TOPOLOGY, 'llm.dead');
      expect(listing.summary.matched).toBe(1);
      expect(listing.warnings.filter((w) => /delivery limit/.test(w))).toEqual([]);
    }
  });

  it('a limit within reach warns before the first read', async () => {
    const listing = await list(limitsFile, 'low.dead');
    expect(listing.warnings).toContain(
      "quorum queue 'low.dead' has a delivery limit of 5: each list/requeue run counts one delivery for the messages it leaves in place, so a dead letter is dropped after about 5 runs; set deliveryLimit high (or -1 on RabbitMQ 4.x) on dead-letter queues",
    );
  });

  it('a higher limit warns once reads have brought a message within reach (x-delivery-count), not before', async () => {
    const first = await list(limitsFile, 'near.dead');
    expect(first.summary.matched).toBe(1);
    expect(first.warnings.filter((w) => /delivery limit/.test(w))).toEqual([]);
    const second = await list(limitsFile, 'near.dead');
    expect(second.warnings).toContain(
      "1 message in 'near.dead' was already returned up to 1 time: the queue's delivery limit of 101 drops it after about 100 more list/requeue runs; raise deliveryLimit on 'near.dead' (or -1 on RabbitMQ 4.x)",
    );
  });
});
