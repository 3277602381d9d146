import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetric } from './helpers/fault-evidence.ts';
import { createScenario, type Scenario } from './helpers/scenario.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort } from './helpers/warren-processes.ts';

const JOBS = 600;
const PREFETCH = 50;

describe('worker SIGKILL with jobs in flight', () => {
  let s: Scenario;
  beforeAll(async () => {
    // 600 ms per LLM call at 150 jobs/s: about 90 jobs in flight (Little's law) over two workers'
    // 100 prefetch slots, so the victim holds close to `prefetch` jobs when it dies. (At 300 ms the
    // steady state was 45, under the 50 the test waits for, and a slow run never got there.)
    s = await createScenario('worker-kill', { llm: { latencyMs: 600 }, topology: { prefetch: PREFETCH } });
  });
  afterAll(async () => s?.cleanup());

  it('redelivers the dead worker\'s unacked jobs: the survivors see redeliveries, every job succeeds, 0 lost, duplicates bounded by its prefetch', async () => {
    const api = await s.startApi('api', await freePort());
    const victim = await s.startWorker('worker-1');
    // The survivors serve /metrics, where warren_redeliveries_total counts deliveries the broker flagged redelivered.
    const survivorMetrics = [await freePort(), await freePort()].map((p) => `http://127.0.0.1:${p}/metrics`);
    await s.startWorker('worker-2', { WARREN_METRICS_PORT: new URL(survivorMetrics[0] as string).port });

    const load = s.load({ submit: s.submitter(() => [api.url]), ratePerSecond: 150, total: JOBS });
    await waitUntil(() => s.llm.stats().inFlight >= PREFETCH, 20_000, 'jobs in flight at the LLM');
    victim.kill('SIGKILL');
    const exit = await victim.exited;
    expect(exit.signal).toBe('SIGKILL');
    // A replacement comes up mid-load, as an orchestrator would start one.
    await s.startWorker('worker-3', { WARREN_METRICS_PORT: new URL(survivorMetrics[1] as string).port });
    await load;

    const report = await s.finish({
      notes: 'duplicates = jobs whose result the killed worker had published but not yet acked (at-least-once); each is at most one per prefetch slot',
    });
    expect(report.accepted).toBe(JOBS);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(JOBS);
    expect(report.succeeded).toBe(JOBS);
    expect(report.deadLettered).toBe(0);
    expect(s.observer.deadLetters()).toBe(0);
    expect(report.duplicates).toBeLessThanOrEqual(PREFETCH);
    expect(report.unknownFinished).toBe(0);
    // The kill did something: the broker handed the victim's unacked jobs to the survivors (flagged redelivered),
    // and the LLM was called again for them (no job fails here, so every extra call is a redelivered job).
    const redelivered = (await Promise.all(survivorMetrics.map((u) => scrapeMetric(u, 'warren_redeliveries_total')))).reduce((a, b) => a + b, 0);
    const extraCalls = s.llm.stats().requests - JOBS;
    console.log(`[chaos] worker-kill: ${redelivered} deliveries flagged redelivered at the survivors, ${extraCalls} extra LLM calls, ${report.duplicates} duplicate results`);
    expect(redelivered).toBeGreaterThanOrEqual(1);
    expect(extraCalls).toBeGreaterThanOrEqual(1);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
