import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError, TransientJobError } from '../../src/errors/index.ts';
import { ORDER_HEADERS } from '../../src/jobs/headers.ts';
import { REASON_BLOCKED } from '../../src/jobs/ordering.ts';
import type { TaskPayload } from '../../src/jobs/payload-schemas.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import type { JobHandler } from '../../src/worker/handler-contract.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createOrderLedger, type OrderLedger } from './helpers/order-ledger.ts';
import { createWorkerHarness, type WorkerHarness } from './helpers/worker-harness.ts';
import { createDlqHarness, type DlqHarness } from './helpers/dlq-fixture.ts';

// Ordered routes (issue #13) against the real broker: a consistent-hash exchange, 4 single-active-consumer
// partitions, per-key lanes in the worker, in-place retries, and blocking of a key whose job was dead-lettered.
const PARTITIONS = 4;

export function orderedTopology(): Record<string, unknown> {
  return {
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: {
      orders: {
        type: 'quorum',
        deadLetter: { exchange: 'dlx', routingKey: 'dead' },
        deadLetterStrategy: 'at-least-once',
        overflow: 'reject-publish',
        deliveryLimit: 50,
        retry: 'quick',
        ordering: { key: '{input.customerId}', partitions: PARTITIONS },
      },
      dead: { type: 'quorum', deliveryLimit: 1000000 },
    },
    bindings: [
      { source: 'jobs', queue: 'orders', routingKey: 'orders' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    retryPolicies: { quick: { attempts: 3, backoff: ['50ms', '100ms'] } },
    routes: { orders: { exchange: 'jobs', routingKey: 'orders', schema: 'task' } },
    consumers: { orders: { queue: 'orders', handler: 'echo-task', route: 'orders', prefetch: 20, concurrency: 8, timeout: '10s' } },
  };
}

/** A handler that records (key, seq) when it succeeds, fails on request, and measures how many run at once. */
function ledgerHandler(ledger: OrderLedger, state: { running: number; peak: number; broken: Set<string>; flaky: Map<string, number> }): JobHandler<TaskPayload, unknown> {
  return async (job) => {
    const { customerId, seq, sleepMs } = job.payload.input as { customerId: string; seq: number; sleepMs?: number };
    state.running++;
    state.peak = Math.max(state.peak, state.running);
    try {
      await new Promise((r) => setTimeout(r, sleepMs ?? 2));
      const id = `${customerId}#${seq}`;
      if (state.broken.has(id)) throw new PermanentJobError(`job ${id} is broken`);
      const left = state.flaky.get(id) ?? 0;
      if (left > 0) {
        state.flaky.set(id, left - 1);
        throw new TransientJobError(`job ${id} not yet`);
      }
      ledger.record(customerId, seq);
      return { customerId, seq };
    } finally {
      state.running--;
    }
  };
}

describe('ordered routes', () => {
  let h: WorkerHarness;
  let worker: Worker | undefined;
  let dlq: DlqHarness;
  const ledger = createOrderLedger();
  const state = { running: 0, peak: 0, broken: new Set<string>(), flaky: new Map<string, number>() };
  /** As the API writes it: `<owner>/<key>`. */
  const publish = (customerId: string, seq: number, extra: Record<string, unknown> = {}) =>
    h.publish('orders', { type: 'order', input: { customerId, seq, ...extra } }, { headers: { [ORDER_HEADERS.key]: `tenant/${customerId}` } });

  beforeAll(async () => {
    h = await createWorkerHarness('ordered', () => orderedTopology());
    dlq = await createDlqHarness(h.vh, h.topology);
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers: { 'echo-task': ledgerHandler(ledger, state) as JobHandler } });
  });
  afterAll(async () => {
    await worker?.close(2_000);
    await dlq?.close();
    await h?.close();
  });

  it('runs the jobs of each key in order, keys side by side, with retries keeping their place', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => `c${i}`);
    const perKey = 8;
    // Every third key's second job fails twice before it succeeds (in-place retries, backoff 50 then 100 ms).
    for (const k of keys.filter((_, i) => i % 3 === 0)) state.flaky.set(`${k}#2`, 2);
    for (let seq = 1; seq <= perKey; seq++) await Promise.all(keys.map((k) => publish(k, seq, { sleepMs: 5 })));
    const expected = new Map(keys.map((k) => [k, perKey]));
    const deadline = Date.now() + 30_000;
    while (ledger.lost(expected).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    expect(ledger.lost(expected)).toEqual([]);
    expect(ledger.outOfOrder()).toEqual([]);
    for (const k of keys) expect(ledger.runs().get(k)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Keys ran side by side: more than one handler at once.
    expect(state.peak).toBeGreaterThan(1);
    // The retried jobs did fail twice: 'retrying' events for attempts 1 and 2.
    const retried = h.events.events.filter((e) => e.status === 'retrying');
    expect(retried.length).toBe(8 * 2);
    expect((await h.ch.checkQueue('dead')).messageCount).toBe(0);
  });

  it('a dead-lettered job blocks its key: later jobs go aside in order, other keys go on', async () => {
    state.broken.add('blk#1');
    const first = await publish('blk', 1);
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    const second = await publish('blk', 2);
    const third = await publish('blk', 3);
    const other = await publish('free', 1);
    const blocked = await h.events.waitFor((e) => (e.jobId === second || e.jobId === third) && e.status === 'blocked', 10_000, 2);
    expect(blocked.map((e) => [e.jobId, e.blockedBy])).toEqual([
      [second, first],
      [third, first],
    ]);
    await h.events.waitFor((e) => e.jobId === other && e.status === 'succeeded');
    expect(ledger.runs().get('blk')).toBeUndefined();
    expect(ledger.runs().get('free')).toEqual([1]);

    // The DLQ holds the failed job, then the two it blocks, in order, saying why; list shows the blocked key.
    const listing = await dlq.service.list('dead', { filter: { key: ['blk'] }, pageSize: 10 });
    expect(listing.messages.map((m) => m.messageId)).toEqual([first, second, third]);
    expect(listing.messages.slice(1).map((m) => m.reason)).toEqual([REASON_BLOCKED, REASON_BLOCKED]);
    expect(listing.summary.blockedKeys).toEqual([{ key: 'tenant/blk', blockedBy: first, waiting: 2 }]);

    // A job published while the key is blocked goes aside too, behind the others.
    const fourth = await publish('blk', 4);
    await h.events.waitFor((e) => e.jobId === fourth && e.status === 'blocked');
    expect(ledger.runs().get('blk')).toBeUndefined();
  });

  it('requeueing the failed job releases its key: it runs first, then the blocked ones in order, then new jobs', async () => {
    state.broken.delete('blk#1');
    const dead = await h.ch.checkQueue('dead');
    expect(dead.messageCount).toBe(4);
    // Select the failed job only: the jobs it blocks follow it.
    const first = (await dlq.service.list('dead', { filter: { key: ['blk'], reason: ['permanent'] }, pageSize: 10 })).messages[0]?.messageId as string;
    const report = await dlq.service.requeue('dead', { filter: { id: [first] } });
    expect(report.moved).toBe(4);
    const fifth = await publish('blk', 5);
    await h.events.waitFor((e) => e.jobId === fifth && e.status === 'succeeded', 10_000);
    expect(ledger.runs().get('blk')).toEqual([1, 2, 3, 4, 5]);
    expect((await h.ch.checkQueue('dead')).messageCount).toBe(0);
  });
});
