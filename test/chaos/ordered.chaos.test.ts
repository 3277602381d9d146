import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadTopology } from '../../src/config/load-topology.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { createOrderLedger } from '../integration/helpers/order-ledger.ts';
import { createTestVhost, type TestVhost } from '../integration/helpers/test-vhost.ts';
import { TEST_AMQP_BASE } from '../integration/helpers/broker-env.ts';
import { recordScenario } from './helpers/scenario-report.ts';
import { REPO_ROOT } from './helpers/scenario-topology.ts';
import type { ManagedProcess } from './helpers/spawn-process.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort, startApiProcess, startWorkerProcess } from './helpers/warren-processes.ts';

// Ordered routes under a worker crash (issue #13): an API and two worker processes on an ordered queue
// (8 partitions, single-active-consumer). Clients publish each key's jobs one after another; the worker
// that owns the partitions is killed with SIGKILL mid-load and a replacement joins. The ledger of results,
// (key, sequence) in the order they were published, must show every key strictly in order and nothing lost.
const KEYS = 40;
const PER_KEY = 15;

describe('ordered route, worker SIGKILL mid-load', () => {
  let vh: TestVhost;
  let dir: string;
  let file: string;
  const procs: ManagedProcess[] = [];

  beforeAll(async () => {
    vh = await createTestVhost('chaos-ordered');
    dir = mkdtempSync(join(tmpdir(), 'warren-chaos-ordered-'));
    symlinkSync(join(REPO_ROOT, 'consumers'), join(dir, 'consumers'), 'dir');
    file = join(dir, 'topology.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        connection: { urls: [TEST_AMQP_BASE], management: vh.managementUrl, vhost: vh.vhost, heartbeat: 2 },
        exchanges: { tasks: { type: 'direct' }, dlx: { type: 'direct' }, results: { type: 'fanout' } },
        queues: {
          orders: {
            type: 'quorum',
            deadLetter: { exchange: 'dlx', routingKey: 'dead' },
            deadLetterStrategy: 'at-least-once',
            overflow: 'reject-publish',
            deliveryLimit: 20,
            ordering: { key: '{input.customerId}', partitions: 8 },
          },
          dead: { type: 'quorum', deliveryLimit: 1000000 },
          'results.log': { type: 'classic' },
        },
        bindings: [
          { source: 'tasks', queue: 'orders', routingKey: 'orders' },
          { source: 'dlx', queue: 'dead', routingKey: 'dead' },
          { source: 'results', queue: 'results.log' },
        ],
        routes: { orders: { exchange: 'tasks', routingKey: 'orders', schema: 'task' } },
        consumers: { orders: { queue: 'orders', handler: 'echo-task', route: 'orders', prefetch: 20, timeout: '10s', results: { exchange: 'results' } } },
        jobEvents: { maxAge: '1h' },
      }),
    );
    const loaded = await loadTopology(file);
    await ensureTopology(loaded.topology, vh.management);
  });
  afterAll(async () => {
    for (const p of procs) if (p.isRunning()) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await vh?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every key in order across the crash: out-of-order = 0, lost = 0', async () => {
    const api = await startApiProcess({ name: 'api', topologyFile: file, port: await freePort() });
    procs.push(api.proc);
    const owner = await startWorkerProcess({ name: 'worker-1', topologyFile: file });
    procs.push(owner);
    procs.push(await startWorkerProcess({ name: 'worker-2', topologyFile: file }));

    const conn = await amqplib.connect(vh.amqpUrl);
    const ch = await conn.createChannel();
    const results: ConsumeMessage[] = [];
    await ch.consume('results.log', (m) => m && results.push(m), { noAck: true });

    // Each key's jobs are sent one after another (a client that needs them in order); keys run in parallel.
    const accepted = new Map<string, number>();
    let refused = 0;
    const sendKey = async (k: string) => {
      for (let seq = 1; seq <= PER_KEY; seq++) {
        const res = await fetch(`${api.url}/v1/jobs/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'order', input: { customerId: k, seq, sleepMs: 20 } }),
        });
        await res.arrayBuffer();
        if (res.status !== 202) {
          refused++;
          return;
        }
        accepted.set(k, seq);
      }
    };
    const load = Promise.all(Array.from({ length: KEYS }, (_, i) => sendKey(`cust-${i}`)));
    await waitUntil(() => results.length >= 150, 30_000, '150 results before the kill');
    owner.kill('SIGKILL');
    await owner.exited;
    procs.push(await startWorkerProcess({ name: 'worker-3', topologyFile: file }));
    await load;

    const total = [...accepted.values()].reduce((a, b) => a + b, 0);
    const ledgerOf = () => {
      const l = createOrderLedger();
      for (const m of results) {
        const { result } = JSON.parse(m.content.toString()) as { result: { echo: { customerId: string; seq: number } } };
        l.record(result.echo.customerId, result.echo.seq);
      }
      return l;
    };
    await waitUntil(() => ledgerOf().lost(accepted).length === 0, 60_000, 'every accepted job finished').catch(() => undefined);
    const ledger = ledgerOf();
    const lost = ledger.lost(accepted).length;
    const outOfOrder = ledger.outOfOrder().length;
    const finished = total - lost;
    const duplicates = ledger.size - finished;
    const deadLetters = (await ch.checkQueue('dead')).messageCount;
    await conn.close();
    const line = `[chaos] ordered: accepted ${total} / finished ${finished} / out-of-order ${outOfOrder} / lost ${lost} (duplicates ${duplicates}, refused ${refused}, ${KEYS} keys x ${PER_KEY}, owner SIGKILLed after 150)`;
    console.log(line);
    recordScenario(
      'ordered',
      { accepted: total, finished, succeeded: finished, deadLettered: 0, duplicates, recovered: 0, duplicateIds: [], lost, lostIds: [], rejected: {}, rejectedButProcessed: [], indeterminate: 0, indeterminateFinished: 0, unknownFinished: 0 },
      line,
      'out-of-order = a lower sequence of a key finishing after a higher one; a job run twice in a row (at-least-once after the kill) counts as a duplicate, not out of order',
    );
    expect(refused).toBe(0);
    expect(total).toBe(KEYS * PER_KEY);
    expect(outOfOrder).toBe(0);
    expect(lost).toBe(0);
    expect(deadLetters).toBe(0);
  });
});
