import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { dlqForApi } from '../../src/cli/start-command.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createJobEventPublisher } from '../../src/jobs/job-event-publisher.ts';
import { loadJobEventKeyring } from '../../src/jobs/job-event-key.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createDlqHarness } from './helpers/dlq-fixture.ts';
import { waitForCount } from './helpers/queue-depth.ts';
import { createWorkerHarness, type WorkerHarness } from './helpers/worker-harness.ts';

const ADMIN_KEY = 'admin-key-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };

/**
 * A work queue drained by echo-task (two attempts), a queue nobody consumes
 * whose messages expire after 100 ms (the broker dead-letters them), both
 * into the quorum DLQ `dead`.
 */
function topology() {
  return () => ({
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: {
      work: { type: 'classic', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, retry: 'quick' },
      expiring: { type: 'classic', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, messageTtl: '100ms' },
      dead: { type: 'quorum' },
    },
    bindings: [
      { source: 'jobs', queue: 'work', routingKey: 'work' },
      { source: 'jobs', queue: 'expiring', routingKey: 'expiring' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    retryPolicies: { quick: { attempts: 2, backoff: ['50ms'] } },
    routes: { task: { exchange: 'jobs', routingKey: 'work', schema: 'task' }, slow: { exchange: 'jobs', routingKey: 'expiring', schema: 'task' } },
    consumers: { work: { queue: 'work', handler: 'echo-task', route: 'task', prefetch: 10 } },
  });
}

interface Group {
  id: string;
  origin: string;
  reason: string;
  errorClass: string;
  count: number;
}
interface Groups {
  total: number;
  source: 'events' | 'scan';
  unaccounted?: number;
  warnings: string[];
  groups: Group[];
}

describe('dead-letter failure groups from the job events (real worker, real broker, startApi)', () => {
  let h: WorkerHarness;
  let api: RunningApi;
  let worker: Worker | undefined;

  const start = () =>
    startApi({
      topology: h.loaded,
      port: 0,
      apiKeys: `${ADMIN_KEY}:*:admin`,
      logger: createSilentLogger(),
      dlq: dlqForApi(loadConfig({})),
    });

  async function groups(query = ''): Promise<Groups> {
    const r = await fetch(`${api.url}/v1/dlq/dead/groups${query}`, { headers: ADMIN });
    expect(r.status).toBe(200);
    return (await r.json()) as Groups;
  }

  /** Asks until the answer satisfies `ok` (the tail reads events a moment after they are written). */
  async function groupsUntil(ok: (g: Groups) => boolean, what: string): Promise<Groups> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const g = await groups();
      if (ok(g)) return g;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last answer ${JSON.stringify(g)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** What a group request shows, without the fields that describe the count rather than the groups. */
  const shape = (g: Groups) => g.groups;

  beforeAll(async () => {
    h = await createWorkerHarness('dlq-event-groups', topology());
    api = await start();
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    // Three errors, three groups: permanent (dead-lettered at once), transient (retried, then attempts-exhausted), and not JSON.
    for (let i = 0; i < 3; i++) await h.publish('task', { type: 'p', input: { fail: 'permanent', message: `no customer ${i}` } });
    for (let i = 0; i < 2; i++) await h.publish('task', { type: 't', input: { fail: 'transient' } });
    for (let i = 0; i < 2; i++) await h.publish('task', {}, { raw: Buffer.from(`not json ${i}`) });
    await waitForCount(h.ch, 'dead', 7, 20_000);
    await h.events.waitFor((e) => e.status === 'dead-lettered', 10_000, 7);
    // Requeued jobs must stay requeued (a running worker would dead-letter them again).
    await worker.close();
    worker = undefined;
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await h?.close();
  });

  it('counts the same groups from the events as a read of the queue: same ids, counts, ages and samples', async () => {
    const fromEvents = await groupsUntil((g) => g.source === 'events' && g.total === 7 && g.unaccounted === 0 && g.groups.reduce((n, x) => n + x.count, 0) === 7, '7 dead letters from the events');
    expect(fromEvents.groups).toHaveLength(3);
    expect(fromEvents.warnings).toEqual([]);
    const scanned = await groups('?fresh=1');
    expect(scanned.source).toBe('scan');
    expect(shape(fromEvents)).toEqual(shape(scanned));
    expect(fromEvents.groups.map((g) => [g.reason, g.errorClass, g.count]).sort()).toEqual([
      ['attempts-exhausted', 'transient', 2],
      ['invalid-payload', 'invalid-payload', 2],
      ['permanent', 'permanent', 3],
    ]);
  });

  it('drops a group once the CLI code path requeued it (its requeued events), without reading the queue', async () => {
    const before = await groups();
    const permanent = before.groups.find((g) => g.reason === 'permanent');
    expect(permanent).toBeDefined();
    // What `warren dlq requeue dead --group <id> --yes` runs: src/dlq's service with the CLI's job-event publisher.
    const dlq = await createDlqHarness(h.vh, h.topology);
    const management = dlq.deps.management;
    dlq.deps.events = createJobEventPublisher(dlq.publisher, h.topology.jobEvents, 'dlq', () => loadJobEventKeyring({ vhost: h.vh.vhost, management, logger: createSilentLogger() }));
    try {
      const report = await dlq.service.requeue('dead', { filter: { group: [permanent!.id] } });
      expect(report).toMatchObject({ moved: 3, eventErrors: 0 });
    } finally {
      await dlq.close();
    }
    const after = await groupsUntil((g) => g.source === 'events' && g.total === 4, 'the requeue to reach the events');
    expect(after.groups.map((g) => g.reason).sort()).toEqual(['attempts-exhausted', 'invalid-payload']);
    expect(after.unaccounted).toBe(0);
    expect(shape(after)).toEqual(shape(await groups('?fresh=1')));
  });

  it('after an API restart the groups are restored from the checkpoint (no read of the queue) and still right', async () => {
    const expected = shape(await groups('?fresh=1'));
    await api.close();
    api = await start();
    expect(await api.deadLetters.waitUntilReady(15_000)).toBe(true);
    const restore = api.deadLetters.lastRestore();
    expect(restore).toMatchObject({ fromCheckpoint: true, deadLetters: 4 });
    const after = await groups();
    expect(after.source).toBe('events');
    expect(after.unaccounted).toBe(0);
    expect(shape(after)).toEqual(expected);
  });

  it('says so when the broker holds a dead letter no job event accounts for (a message expired by TTL), and a fresh count groups it', async () => {
    await h.publish('slow', { type: 'never-consumed' });
    await waitForCount(h.ch, 'dead', 5, 10_000);
    const g = await groups();
    expect(g.source).toBe('events');
    expect(g.total).toBe(5);
    expect(g.unaccounted).toBe(1);
    expect(g.groups.reduce((n, x) => n + x.count, 0)).toBe(4);
    expect(g.warnings.join('\n')).toMatch(/1 of the 5 messages in 'dead' are not accounted for/);
    const scanned = await groups('?fresh=1');
    expect(scanned.source).toBe('scan');
    expect(scanned.groups.find((x) => x.reason === 'expired')).toMatchObject({ origin: 'expiring', count: 1 });
  });

  it('refuses an unknown queue as before (its depth probe fails), and the next count still comes from the events', async () => {
    const r = await fetch(`${api.url}/v1/dlq/no.such.queue/groups`, { headers: ADMIN });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('DLQ_QUEUE_NOT_FOUND');
    expect(await groups()).toMatchObject({ source: 'events', total: 5, unaccounted: 1 });
  });

  it('reads the queue when the events count more than it holds (a purge writes no job events)', async () => {
    const purge = await fetch(`${api.url}/v1/dlq/dead/purge`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: '{}' });
    expect(purge.status).toBe(200);
    const g = await groups();
    expect(g.source).toBe('scan');
    expect(g.total).toBe(0);
    expect(g.groups).toEqual([]);
    expect(g.warnings.join('\n')).toMatch(/the job events count 4 dead letters in 'dead' but it holds 0/);
  });
});
