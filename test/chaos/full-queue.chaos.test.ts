import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort } from './helpers/warren-processes.ts';

const MAX_LENGTH = 50;
const BURST = 200;
const IN_FLIGHT = 32;

describe('full queue with overflow reject-publish', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await createScenario('full-queue', { topology: { maxLength: MAX_LENGTH }, llm: { latencyMs: 10 } });
  });
  afterAll(async () => s?.cleanup());

  it('answers 503 beyond max-length, and a job answered 503 never runs', async () => {
    const api = await s.startApi('api', await freePort());
    // No worker yet: the queue fills up.
    const burst = await s.load({ submit: s.submitter(() => [api.url]), ratePerSecond: 400, total: BURST, keyPrefix: 'burst', maxInFlight: IN_FLIGHT });
    // A quorum queue checks the limit against its last applied length, so publishes in flight at the
    // same time can overshoot it (at most by their number); each of them was confirmed and is in the queue.
    expect(burst.accepted).toBeGreaterThanOrEqual(MAX_LENGTH);
    expect(burst.accepted).toBeLessThanOrEqual(MAX_LENGTH + IN_FLIGHT);
    const refused = BURST - burst.accepted;
    expect(burst.firstAnswers).toEqual({ '202': burst.accepted, '503:PUBLISH_REJECTED': refused });
    await waitUntil(async () => (await s.queueDepth(SCENARIO.workQueue)) === burst.accepted, 15_000, `${burst.accepted} messages in the work queue`);

    // Drain, then the same API accepts again.
    await s.startWorker('worker-1');
    await waitUntil(() => s.ledger.pending() === 0, 30_000, 'the accepted burst to finish');
    const after = await s.load({ submit: s.submitter(() => [api.url]), ratePerSecond: 50, total: 40, keyPrefix: 'after' });
    expect(after.accepted).toBe(40);

    const report = await s.finish({
      notes: `max-length ${MAX_LENGTH}, ${burst.accepted} accepted (quorum overshoot ${burst.accepted - MAX_LENGTH}); 503 answers carry Retry-After and code PUBLISH_REJECTED ("nothing was queued"); none of the ${refused} ran`,
    });
    expect(report.accepted).toBe(burst.accepted + 40);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(report.accepted);
    expect(report.succeeded).toBe(report.accepted);
    expect(report.deadLettered).toBe(0);
    expect(s.observer.deadLetters()).toBe(0);
    expect(report.rejected).toEqual({ '503:PUBLISH_REJECTED': refused });
    expect(report.rejectedButProcessed).toEqual([]);
    expect(report.unknownFinished).toBe(0);
    expect(report.duplicates).toBe(0);
    // The fake LLM saw exactly the accepted jobs: nothing refused reached a worker.
    expect(s.llm.stats().requests).toBe(report.accepted);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
