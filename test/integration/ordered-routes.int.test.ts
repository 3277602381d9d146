import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError, TransientJobError } from '../../src/errors/index.ts';
import { ORDER_HEADERS } from '../../src/jobs/headers.ts';
import { REASON_BLOCKED, releaseEndMessage } from '../../src/jobs/ordering.ts';
import type { TaskPayload } from '../../src/jobs/payload-schemas.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import type { JobHandler } from '../../src/worker/handler-contract.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createOrderLedger, type OrderLedger } from './helpers/order-ledger.ts';
import { createWorkerHarness, type WorkerHarness } from './helpers/worker-harness.ts';
import { createDlqHarness, type DlqHarness } from './helpers/dlq-fixture.ts';
import { spawnWorkerProcess } from './helpers/worker-process.ts';

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
      // An unordered queue a requeue can send a blocking job to instead (--to-route plain).
      plain: { type: 'classic', deadLetter: { exchange: 'dlx', routingKey: 'dead' } },
    },
    bindings: [
      { source: 'jobs', queue: 'orders', routingKey: 'orders' },
      { source: 'jobs', queue: 'plain', routingKey: 'plain' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    retryPolicies: { quick: { attempts: 3, backoff: ['50ms', '100ms'] } },
    routes: { orders: { exchange: 'jobs', routingKey: 'orders', schema: 'task' }, plain: { exchange: 'jobs', routingKey: 'plain', schema: 'task' } },
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

describe('ordered routes: purging the blocking job', () => {
  let h: WorkerHarness;
  let worker: Worker | undefined;
  let dlq: DlqHarness;
  const ledger = createOrderLedger();
  const state = { running: 0, peak: 0, broken: new Set<string>(['pk#1']), flaky: new Map<string, number>() };
  const publish = (customerId: string, seq: number) => h.publish('orders', { type: 'order', input: { customerId, seq } }, { headers: { [ORDER_HEADERS.key]: `tenant/${customerId}` } });

  beforeAll(async () => {
    h = await createWorkerHarness('ordered-purge', () => orderedTopology());
    dlq = await createDlqHarness(h.vh, h.topology);
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers: { 'echo-task': ledgerHandler(ledger, state) as JobHandler } });
  });
  afterAll(async () => {
    await worker?.close(2_000);
    await dlq?.close();
    await h?.close();
  });

  it('releases the key (and says so); the jobs it blocked stay in the DLQ for the operator', async () => {
    const first = await publish('pk', 1);
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    const second = await publish('pk', 2);
    await h.events.waitFor((e) => e.jobId === second && e.status === 'blocked');

    const purged = await dlq.service.purge('dead', { filter: { id: [first] }, force: true });
    expect(purged.purged).toBe(1);
    expect(purged.warnings).toContain(`key 'tenant/pk' released: its blocking job ${first} was purged; 1 job(s) blocked behind it stay in 'dead': requeue them with --key 'pk'`);

    // Released: a new job of the key runs (the worker learns the release from the blocks stream, a few ms later).
    await new Promise((r) => setTimeout(r, 300));
    const third = await publish('pk', 3);
    await h.events.waitFor((e) => e.jobId === third && e.status === 'succeeded', 10_000);
    expect(ledger.runs().get('pk')).toEqual([3]);
    // The blocked one is still there, and runs when requeued.
    const report = await dlq.service.requeue('dead', { filter: { key: ['pk'] } });
    expect(report.moved).toBe(1);
    await h.events.waitFor((e) => e.jobId === second && e.status === 'succeeded', 10_000);
    expect(ledger.runs().get('pk')).toEqual([3, 2]);
  });
});

describe('ordered routes: sending the blocking job to another route', () => {
  let h: WorkerHarness;
  let worker: Worker | undefined;
  let dlq: DlqHarness;
  const ledger = createOrderLedger();
  const state = { running: 0, peak: 0, broken: new Set<string>(['mv#1']), flaky: new Map<string, number>() };
  const publish = (seq: number) => h.publish('orders', { type: 'order', input: { customerId: 'mv', seq } }, { headers: { [ORDER_HEADERS.key]: 'tenant/mv' } });

  beforeAll(async () => {
    h = await createWorkerHarness('ordered-move', () => orderedTopology());
    dlq = await createDlqHarness(h.vh, h.topology);
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), consumers: ['orders'], handlers: { 'echo-task': ledgerHandler(ledger, state) as JobHandler } });
  });
  afterAll(async () => {
    await worker?.close(2_000);
    await dlq?.close();
    await h?.close();
  });

  it('--to-route outside the ordered queue releases the key; the blocked jobs go along', async () => {
    const first = await publish(1);
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    const second = await publish(2);
    await h.events.waitFor((e) => e.jobId === second && e.status === 'blocked');
    const report = await dlq.service.requeue('dead', { filter: { id: [first] }, toRoute: 'plain' });
    expect(report.moved).toBe(2);
    expect(report.warnings).toContain(`key 'tenant/mv' released: its blocking job ${first} was sent to route 'plain' (outside its ordered queue), and the jobs it blocked with it`);
    expect((await h.ch.checkQueue('plain')).messageCount).toBe(2);
    await new Promise((r) => setTimeout(r, 300)); // the worker reads the release from the blocks stream
    const third = await publish(3);
    await h.events.waitFor((e) => e.jobId === third && e.status === 'succeeded', 10_000);
  });
});

describe('ordered routes: a job published while its blocking job is being requeued', () => {
  let h: WorkerHarness;
  let worker: Worker | undefined;
  const ledger = createOrderLedger();
  const state = { running: 0, peak: 0, broken: new Set<string>(['rq#1']), flaky: new Map<string, number>() };
  const handlers = { 'echo-task': ledgerHandler(ledger, state) as JobHandler };
  const send = (seq: number, id: string, headers: Record<string, unknown> = {}) =>
    h.publish('orders', { type: 'order', input: { customerId: 'rq', seq } }, { id, headers: { [ORDER_HEADERS.key]: 'tenant/rq', ...headers } });

  let dlq: DlqHarness;

  beforeAll(async () => {
    h = await createWorkerHarness('ordered-window', () => orderedTopology());
    dlq = await createDlqHarness(h.vh, h.topology);
  });
  afterAll(async () => {
    await worker?.close(2_000);
    await dlq?.close();
    await h?.close();
  });

  it('runs after the requeued batch, held back until the end marker', async () => {
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers });
    const first = await send(1, 'rq-1');
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    await worker.close(2_000);
    state.broken.clear();
    // What lands in the partition when the API publishes job 3 while a requeue sends back job 1 and the job 2 it
    // blocked, then its end marker: 1, 3, 2, marker. (Published here in that order, the worker stopped, so the
    // interleaving is exact.)
    await send(1, 'rq-1');
    await send(3, 'rq-3');
    await send(2, 'rq-2', { [ORDER_HEADERS.blockedBy]: 'rq-1' });
    const marker = releaseEndMessage('tenant/rq', 'rq-1');
    await new Promise<void>((resolve, reject) => {
      void h.admin.createConfirmChannel().then((c) => c.publish('jobs', 'orders', marker.content, marker.properties, (err: unknown) => (err ? reject(err as Error) : resolve())));
    });
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers });
    await h.events.waitFor((e) => e.jobId === 'rq-3' && e.status === 'succeeded', 10_000);
    expect(ledger.runs().get('rq')).toEqual([1, 2, 3]);
    expect(h.events.events.filter((e) => e.status === 'blocked')).toEqual([]);
  });

  it('a job of the key queued before the requeued job waits for it instead of going aside', async () => {
    await worker?.close(2_000);
    state.broken.add('rw#1');
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers });
    const first = await h.publish('orders', { type: 'order', input: { customerId: 'rw', seq: 1 } }, { headers: { [ORDER_HEADERS.key]: 'tenant/rw' } });
    await h.events.waitFor((e) => e.jobId === first && e.status === 'dead-lettered');
    await worker.close(2_000);
    state.broken.clear();
    // Job 2 is in the partition, ahead of the requeued job 1 (published while no worker ran).
    const second = await h.publish('orders', { type: 'order', input: { customerId: 'rw', seq: 2 } }, { headers: { [ORDER_HEADERS.key]: 'tenant/rw' } });
    const report = await dlq.service.requeue('dead', { filter: { id: [first] } });
    expect(report.moved).toBe(1);
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), handlers });
    await h.events.waitFor((e) => e.jobId === second && e.status === 'succeeded', 10_000);
    expect(ledger.runs().get('rw')).toEqual([1, 2]);
    expect(h.events.events.filter((e) => e.jobId === second && e.status === 'blocked')).toEqual([]);
  });
});

describe('ordered routes across two worker replicas', () => {
  let h: WorkerHarness;
  let standby: Worker | undefined;

  beforeAll(async () => {
    h = await createWorkerHarness('ordered-ha', () => {
      const t = orderedTopology() as { exchanges: Record<string, unknown>; queues: Record<string, unknown>; bindings: unknown[]; consumers: Record<string, Record<string, unknown>> };
      t.exchanges.results = { type: 'fanout' };
      t.queues['results.q'] = { type: 'classic' };
      t.bindings.push({ source: 'results', queue: 'results.q' });
      (t.consumers.orders as Record<string, unknown>).results = { exchange: 'results' };
      return t;
    });
  });
  afterAll(async () => {
    await standby?.close(2_000);
    await h?.close();
  });

  it('a worker killed with SIGKILL mid-job hands its partitions to the standby replica: nothing lost, nothing out of order', async () => {
    const results = await h.collect('results.q');
    // Replica 1 (a child process) subscribes first: single-active-consumer makes it the owner of every partition.
    const first = await spawnWorkerProcess(h.topology, { connectionName: 'ordered-replica-1' });
    let standbyRuns = 0;
    const echo = (await import('../../consumers/echo-task.ts')).default as JobHandler;
    standby = await startWorker({
      topology: h.loaded,
      logger: createSilentLogger(),
      connectionName: 'ordered-replica-2',
      handlers: {
        'echo-task': (async (job, ctx) => {
          standbyRuns++;
          return echo(job, ctx);
        }) as JobHandler,
      },
    });
    const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
    const perKey = 15;
    for (let seq = 1; seq <= perKey; seq++) {
      await Promise.all(keys.map((k) => h.publish('orders', { type: 'order', input: { customerId: k, seq, sleepMs: 25 } }, { headers: { [ORDER_HEADERS.key]: `tenant/${k}` } })));
    }
    // A job that fails for good on replica 1 blocks its key there.
    const failing = await h.publish('orders', { type: 'order', input: { customerId: 'kb', seq: 1, fail: 'permanent' } }, { headers: { [ORDER_HEADERS.key]: 'tenant/kb' } });
    await h.events.waitFor((e) => e.jobId === failing && e.status === 'dead-lettered', 15_000);
    // Kill the owner mid-run, while it holds jobs.
    await results.waitFor(20, 15_000);
    expect(standbyRuns).toBe(0);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const ledger = createOrderLedger();
    const expected = new Map(keys.map((k) => [k, perKey]));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const l = createOrderLedger();
      for (const m of results.messages) {
        const { result } = JSON.parse(m.content.toString()) as { result: { echo: { customerId: string; seq: number } } };
        l.record(result.echo.customerId, result.echo.seq);
      }
      if (l.lost(expected).length === 0 || Date.now() > deadline) {
        for (const [k, runs] of l.runs()) for (const s of runs) ledger.record(k, s);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ledger.lost(expected)).toEqual([]);
    expect(ledger.outOfOrder()).toEqual([]);
    // The standby took over: it ran the rest, including jobs replica 1 held unacked when it died.
    expect(standbyRuns).toBeGreaterThan(0);
    expect(results.messages.some((m) => (JSON.parse(m.content.toString()) as { result: { redelivered: boolean } }).result.redelivered)).toBe(true);
    // The block replica 1 wrote is the standby's too (the blocks stream): the key's next job goes aside.
    const next = await h.publish('orders', { type: 'order', input: { customerId: 'kb', seq: 2 } }, { headers: { [ORDER_HEADERS.key]: 'tenant/kb' } });
    const [blocked] = await h.events.waitFor((e) => e.jobId === next && e.status === 'blocked', 10_000);
    expect(blocked?.blockedBy).toBe(failing);
  });
});
