import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError, TransientJobError } from '../../src/errors/index.ts';
import { ORDER_HEADERS } from '../../src/jobs/headers.ts';
import { REASON_BLOCKED } from '../../src/jobs/ordering.ts';
import type { TaskPayload } from '../../src/jobs/payload-schemas.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import type { JobHandler } from '../../src/worker/handler-contract.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createOrderLedger, type OrderLedger } from './helpers/order-ledger.ts';
import { createWorkerHarness, header, type Collector, type WorkerHarness } from './helpers/worker-harness.ts';

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
  let dead: Collector;
  const ledger = createOrderLedger();
  const state = { running: 0, peak: 0, broken: new Set<string>(), flaky: new Map<string, number>() };
  /** As the API writes it: `<owner>/<key>`. */
  const publish = (customerId: string, seq: number, extra: Record<string, unknown> = {}) =>
    h.publish('orders', { type: 'order', input: { customerId, seq, ...extra } }, { headers: { [ORDER_HEADERS.key]: `tenant/${customerId}` } });

  beforeAll(async () => {
    h = await createWorkerHarness('ordered', () => orderedTopology());
    dead = await h.collect('dead');
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers: { 'echo-task': ledgerHandler(ledger, state) as JobHandler } });
  });
  afterAll(async () => {
    await worker?.close(2_000);
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
    expect(dead.messages.length).toBe(0);
  });

  it('a dead-lettered job blocks its key: later jobs go aside in order, other keys go on', async () => {
    state.broken.add('blk#1');
    const first = await publish('blk', 1);
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    const second = await publish('blk', 2);
    const third = await publish('blk', 3);
    const other = await publish('free', 1);
    const aside = await dead.waitFor(3, 10_000);
    expect(aside.map((m) => m.properties.messageId)).toEqual([first, second, third]);
    expect(aside.slice(1).map((m) => header(m, 'x-warren-reason'))).toEqual([REASON_BLOCKED, REASON_BLOCKED]);
    expect(aside.slice(1).map((m) => header(m, ORDER_HEADERS.blockedBy))).toEqual([first, first]);
    const blocked = await h.events.waitFor((e) => (e.jobId === second || e.jobId === third) && e.status === 'blocked', 5_000, 2);
    expect(blocked.map((e) => e.blockedBy)).toEqual([first, first]);
    await h.events.waitFor((e) => e.jobId === other && e.status === 'succeeded');
    expect(ledger.runs().get('blk')).toBeUndefined();
    expect(ledger.runs().get('free')).toEqual([1]);
  });
});
