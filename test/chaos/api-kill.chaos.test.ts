import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiProcess } from './helpers/warren-processes.ts';
import { freePort } from './helpers/warren-processes.ts';
import { createScenario, type Scenario } from './helpers/scenario.ts';
import { waitUntil } from './helpers/wait-until.ts';

const JOBS = 800;

describe('API SIGKILL mid-load', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await createScenario('api-kill', { llm: { latencyMs: 20 } });
  });
  afterAll(async () => s?.cleanup());

  it('every 2xx job finishes; requests cut mid-flight are retried with their Idempotency-Key', async () => {
    const apiA = await s.startApi('api-a', await freePort());
    const apiB = await s.startApi('api-b', await freePort());
    await s.startWorker('worker-1');
    let live: ApiProcess[] = [apiA, apiB];

    const retries = s.retryTracker();
    const load = s.load({
      onAttempt: retries.onAttempt,
      submit: s.submitter(() => live.map((a) => a.url)),
      ratePerSecond: 200,
      total: JOBS,
      maxInFlight: 64,
      retries: 10,
      retryDelayMs: 300,
    });
    await waitUntil(() => s.ledger.acceptedIds().length >= JOBS / 4, 30_000, 'a quarter of the jobs accepted');
    apiA.proc.kill('SIGKILL');
    expect((await apiA.proc.exited).signal).toBe('SIGKILL');
    // Until it is back, new requests go to the survivor; requests that were inside api-a got no answer.
    live = [apiB];
    const restarted = await s.startApi('api-a-restarted', apiA.port);
    live = [apiB, restarted];
    const summary = await load;

    const report = await s.finish({
      notes: (r) => {
        const d = retries.split(r.duplicateIds);
        return `${summary.retried} request(s) retried after no answer; duplicates: ${d.resent} re-sent jobs whose first publish the killed API had got confirmed before its 'queued' event reached the other replica (published again), ${d.other} other`;
      },
    });
    expect(summary.noAnswer).toBe(0);
    expect(report.accepted).toBe(JOBS);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(JOBS);
    expect(report.unknownFinished).toBe(0);
    expect(report.duplicates).toBeLessThanOrEqual(summary.retried);
    // The restarted replica rebuilt its status view from the job-events stream.
    expect(await s.nonTerminalInStatusView(restarted.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
