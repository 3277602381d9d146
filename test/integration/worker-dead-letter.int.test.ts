import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { policyName } from '../../src/topology/desired-state.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { waitForCount } from './helpers/queue-depth.ts';
import { createWorkerHarness, header, type WorkerHarness } from './helpers/worker-harness.ts';

// The original is acked only after the broker confirmed the dead letter. The
// broker is made to say no for real: the dead-letter queue is full
// (max-length 0, overflow reject-publish), so every DLX publish is nacked.
function topology() {
  return () => ({
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: {
      strict: { type: 'classic', deadLetter: { exchange: 'dlx', routingKey: 'full' } },
      full: { type: 'classic', maxLength: 0, overflow: 'reject-publish' },
    },
    bindings: [
      { source: 'jobs', queue: 'strict', routingKey: 'strict' },
      { source: 'dlx', queue: 'full', routingKey: 'full' },
    ],
    routes: { task: { exchange: 'jobs', routingKey: 'strict', schema: 'task' } },
    consumers: { strict: { queue: 'strict', handler: 'echo-task', route: 'task', prefetch: 5 } },
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const deadLetterFailures = async (w: Worker) => (await w.metrics.publishFailures.get()).values.find((v) => v.labels.kind === 'dead-letter')?.value ?? 0;

describe('dead-lettering waits for the broker', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await createWorkerHarness('worker-dlx', topology());
  });
  afterAll(async () => {
    await h?.close();
  });

  it('holds the job unacked while the DLX publish is refused, loses nothing on shutdown, and acks once the dead letter is confirmed', async () => {
    const payload = { type: 'doomed', input: { fail: 'permanent', message: 'no such customer' } };
    const id = await h.publish('task', payload);

    // 1. The DLQ refuses: the job stays unacked in the worker (not in the DLQ, not ready in its queue).
    const first = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    await until(async () => (await deadLetterFailures(first)) >= 2, 10_000, 'two refused dead-letter publishes');
    expect((await h.ch.checkQueue('full')).messageCount).toBe(0);
    expect((await h.ch.checkQueue('strict')).messageCount).toBe(0);
    expect(first.stats().strict?.unsettled).toBe(1);
    expect(h.events.forJob(id).filter((e) => e.status === 'dead-lettered')).toEqual([]);

    // 2. Shutdown while holding: the job goes back to its queue (nothing lost).
    expect(await first.close(300)).toEqual({ drained: 0, requeued: 1 });
    await waitForCount(h.ch, 'strict', 1, 5_000);

    // 3. A new worker fails it again and holds it; once the DLQ has room the held publish is confirmed, then the ack.
    const second = await startWorker({ topology: h.loaded, logger: createSilentLogger() });
    try {
      await until(async () => (await deadLetterFailures(second)) >= 1, 10_000, 'a refused dead-letter publish');
      await h.vh.management.put(`/policies/${seg(h.vh.vhost)}/${seg(policyName('full'))}`, {
        pattern: '^full$',
        'apply-to': 'queues',
        priority: 100,
        definition: { 'max-length': 100, overflow: 'reject-publish' },
      });
      await until(async () => (await h.ch.checkQueue('full')).messageCount === 1, 15_000, 'the dead letter in the DLQ');
      await until(async () => second.stats().strict?.unsettled === 0, 5_000, 'the original to be acked');
      expect((await h.ch.checkQueue('strict')).messageCount).toBe(0);
      const m = await h.ch.get('full', { noAck: true });
      expect(m).not.toBe(false);
      if (m !== false) {
        expect(JSON.parse(m.content.toString())).toEqual(payload);
        expect(m.properties.messageId).toBe(id);
        expect(header(m, HEADERS.reason)).toBe('permanent');
        expect(header(m, HEADERS.errorMessage)).toBe('no such customer');
        expect(header(m, HEADERS.originQueue)).toBe('strict');
      }
      await h.events.waitFor((e) => e.jobId === id && e.status === 'dead-lettered');
    } finally {
      await second.close(1_000);
    }
  });
});
