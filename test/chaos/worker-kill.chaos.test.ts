import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('redelivers the dead worker\'s unacked jobs: 0 lost, duplicates bounded by its prefetch', async () => {
    const api = await s.startApi('api', await freePort());
    const victim = await s.startWorker('worker-1');
    await s.startWorker('worker-2');

    const load = s.load({ submit: s.submitter(() => [api.url]), ratePerSecond: 150, total: JOBS });
    await waitUntil(() => s.llm.stats().inFlight >= PREFETCH, 20_000, 'jobs in flight at the LLM');
    victim.kill('SIGKILL');
    const exit = await victim.exited;
    expect(exit.signal).toBe('SIGKILL');
    // A replacement comes up mid-load, as an orchestrator would start one.
    await s.startWorker('worker-3');
    await load;

    const report = await s.finish({
      notes: 'duplicates = jobs whose result the killed worker had published but not yet acked (at-least-once); each is at most one per prefetch slot',
    });
    expect(report.accepted).toBe(JOBS);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(JOBS);
    expect(report.succeeded).toBe(JOBS);
    expect(report.duplicates).toBeLessThanOrEqual(PREFETCH);
    expect(report.unknownFinished).toBe(0);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
