import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiProcess } from './helpers/warren-processes.ts';
import { freePort } from './helpers/warren-processes.ts';
import { chatBody, createScenario, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { waitUntil } from './helpers/wait-until.ts';

const JOBS = 800;
/** The canary's LLM call outlasts the kill by far, so its `?wait=` request is certainly inside api-a when it dies. */
const CANARY_DELAY_MS = 3_000;

describe('API SIGKILL mid-load', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await createScenario('api-kill', { llm: { latencyMs: 20 } });
  });
  afterAll(async () => s?.cleanup());

  it('every 2xx job succeeds; requests cut mid-flight are retried with their Idempotency-Key', async () => {
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
    // A request that is certainly in flight at api-a when it dies: it waits for a job that takes seconds.
    const canaryKey = 'canary-cut';
    const canaryBody = chatBody(`[[delay:${CANARY_DELAY_MS}]] canary`, canaryKey);
    const canaryPost = (url: string) =>
      fetch(`${url}/v1/jobs/${SCENARIO.route}?wait=30s`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': canaryKey },
        body: canaryBody,
        signal: AbortSignal.timeout(30_000),
      });
    const canary = canaryPost(apiA.url).then(
      (res) => ({ answered: res.status }),
      (err: unknown) => ({ cut: String((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message) }),
    );
    // Long enough for api-a to have published the canary (confirmed in a few ms), far shorter than its LLM call.
    await sleep(500);
    apiA.proc.kill('SIGKILL');
    expect((await apiA.proc.exited).signal).toBe('SIGKILL');
    // Until it is back, new requests go to the survivor; requests that were inside api-a got no answer.
    live = [apiB];
    const canaryOutcome = await canary;
    // The client retries the cut canary on the survivor with the same key and gets the job, not a second copy.
    const retried = await canaryPost(apiB.url);
    expect([200, 202]).toContain(retried.status);
    const canaryId = ((await retried.json()) as { id: string }).id;
    s.ledger.accepted(canaryId);
    const restarted = await s.startApi('api-a-restarted', apiA.port);
    live = [apiB, restarted];
    const summary = await load;

    const report = await s.finish({
      notes: (r) => {
        const d = retries.split(r.duplicateIds);
        return `${summary.retried} request(s) retried after no answer (first answers ${JSON.stringify(summary.firstAnswers)}); canary ${JSON.stringify(canaryOutcome)}; duplicates: ${d.resent} re-sent jobs whose first publish the killed API had got confirmed before its 'queued' event reached the other replica (published again), ${d.other} other`;
      },
    });
    // The kill cut a request mid-flight: the canary got no HTTP answer (connection reset, not refused).
    expect(canaryOutcome).toHaveProperty('cut');
    expect((canaryOutcome as { cut: string }).cut).not.toBe('ECONNREFUSED');
    expect(summary.noAnswer).toBe(0);
    expect(report.accepted).toBe(JOBS + 1);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(JOBS + 1);
    expect(report.succeeded).toBe(JOBS + 1);
    expect(report.deadLettered).toBe(0);
    expect(s.observer.deadLetters()).toBe(0);
    expect(report.unknownFinished).toBe(0);
    // Only a request re-sent after no answer can be published twice (the canary included).
    expect(report.duplicates).toBeLessThanOrEqual(summary.retried + 1);
    // The restarted replica rebuilt its status view from the job-events stream.
    expect(await s.nonTerminalInStatusView(restarted.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
