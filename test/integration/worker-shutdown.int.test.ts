import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { readAttempt } from '../../src/jobs/job-headers.ts';
import { startWorker } from '../../src/worker/start-worker.ts';
import { body, createWorkerHarness, echoTaskTopology, header, type Collector, type WorkerHarness } from './helpers/worker-harness.ts';
import { waitForCount } from './helpers/queue-depth.ts';
import { spawnWorkerProcess } from './helpers/worker-process.ts';

// Graceful shutdown (in process and on SIGTERM) and SIGKILL mid-job, on a quorum queue.
type EchoResult = { jobId: string; result: { attempt: number; redelivered: boolean } };

describe('worker shutdown and crash', () => {
  let h: WorkerHarness;
  let results: Collector;

  beforeAll(async () => {
    h = await createWorkerHarness('worker-stop', echoTaskTopology());
    results = await h.collect('results.q');
  });
  afterAll(async () => {
    await h?.close();
  });
  // Each test starts from an empty queue: one that fails can't leave its jobs to the next.
  beforeEach(async () => {
    await h.ch.purgeQueue('work');
  });

  const publishSleepers = (n: number, sleepMs: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => h.publish('task', { type: tag, input: { sleepMs, i } })));
  const waitRunning = (ids: string[]) => h.events.waitFor((e) => ids.includes(e.jobId) && e.status === 'running', 10_000, ids.length);
  const resultsFor = (ids: string[], timeoutMs = 15_000) => results.waitFor(ids.length, timeoutMs, (m) => ids.includes(String(m.properties.correlationId)));

  it('close() finishes in-flight jobs, leaves new ones in the queue, and acks nothing twice', async () => {
    const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    const ids = await publishSleepers(5, 800, 'drain');
    await waitRunning(ids);
    const closing = worker.close(10_000);
    // Published after the consumer was cancelled: stays in the queue for the next worker.
    await new Promise((r) => setTimeout(r, 100));
    const later = await publishSleepers(3, 0, 'later');
    const outcome = await closing;
    expect(outcome).toEqual({ drained: 5, requeued: 0 });
    expect((await resultsFor(ids)).map((m) => body<EchoResult>(m).jobId).sort()).toEqual([...ids].sort());
    await waitForCount(h.ch, 'work', 3, 5_000);
    // The next worker takes the rest.
    const next = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    await resultsFor(later);
    await next.close(1_000);
    expect((await h.ch.checkQueue('work')).messageCount).toBe(0);
  });

  it('past the deadline, unfinished jobs are requeued (a redelivery, not a failure) and their handlers aborted', async () => {
    const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    const ids = await publishSleepers(3, 20_000, 'slow');
    await waitRunning(ids);
    const t0 = Date.now();
    const outcome = await worker.close(300);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(outcome).toEqual({ drained: 0, requeued: 3 });
    await waitForCount(h.ch, 'work', 3, 5_000);
    // Back in the queue untouched: same job, same attempt, flagged redelivered; no dead letter, no retry.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await h.ch.get('work', { noAck: true });
      expect(m).not.toBe(false);
      if (m === false) continue;
      seen.push(String(m.properties.messageId));
      expect(m.fields.redelivered).toBe(true);
      // Not republished: the headers are those the job was published with (no attempt header: attempt 1).
      expect(header(m, HEADERS.attempt)).toBeUndefined();
      expect(readAttempt(m.properties.headers as Record<string, unknown>)).toBe(1);
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect((await h.ch.checkQueue('dead')).messageCount).toBe(0);
    expect(h.events.events.filter((e) => ids.includes(e.jobId) && e.status !== 'running')).toEqual([]);
  });

  it('SIGTERM: the worker process drains its in-flight jobs and exits 0', async () => {
    const proc = await spawnWorkerProcess(h.topology, { deadlineMs: 10_000 });
    const ids = await publishSleepers(4, 1_000, 'sigterm');
    await waitRunning(ids);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(await resultsFor(ids, 5_000)).toHaveLength(4);
    expect((await h.ch.checkQueue('work')).messageCount).toBe(0);
  });

  it('SIGKILL mid-job loses nothing: the jobs are redelivered, flagged, with their attempt header', async () => {
    const proc = await spawnWorkerProcess(h.topology);
    const ids = await publishSleepers(6, 3_000, 'sigkill');
    await waitRunning(ids);
    proc.child.kill('SIGKILL');
    expect(await proc.exited).toBe('SIGKILL');
    const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    const done = await resultsFor(ids, 20_000);
    await worker.close(1_000);
    const byJob = new Map(done.map((m) => [body<EchoResult>(m).jobId, body<EchoResult>(m).result]));
    expect([...byJob.keys()].sort()).toEqual([...ids].sort());
    for (const r of byJob.values()) expect(r).toMatchObject({ redelivered: true, attempt: 1 });
    // Each job finished exactly once (the killed process never acked or published a result).
    expect(results.messages.filter((m) => ids.includes(String(m.properties.correlationId)))).toHaveLength(6);
    expect((await h.ch.checkQueue('work')).messageCount).toBe(0);
  });
});
