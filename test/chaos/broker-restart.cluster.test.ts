import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterScript, quorumQueueInfo } from './helpers/cluster-control.ts';
import { deliveryLosses, disconnectsByProcess, duplicateBound, FAULT_LOG } from './helpers/fault-evidence.ts';
import { createScenario, LOCAL_CLUSTER, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort } from './helpers/warren-processes.ts';

/** Log lines of the API's job-history tail: its stream consumer was refused or cancelled, and it went on from where it was. */
const TAIL_LOST = 'lost the job-events stream (deleted, or its consumer cancelled): job history is unavailable until it is back (warren topology apply recreates it)';
const TAIL_RESUMED = 'job-events tail resumes where it stopped; the segment of what it read before is indexed in the background';

/** Consumer prefetch of the scenario topology (its default). */
const PREFETCH = 50;

describe('broker restart: every node of the cluster stopped mid-load, then started again', () => {
  let s: Scenario;
  let down = false;
  beforeAll(async () => {
    s = await createScenario('broker-restart', { broker: LOCAL_CLUSTER, llm: { latencyMs: 50 } });
  });
  afterAll(async () => {
    if (down) await clusterScript('start').catch(() => undefined);
    await s?.cleanup();
  });

  it('API answers 503 while no broker runs, every process reconnects by itself, every accepted job succeeds, duplicates within what the faults explain', async () => {
    const api = await s.startApi('api', await freePort());
    const workers = [await s.startWorker('worker-1'), await s.startWorker('worker-2')];
    const procs = [api.proc, ...workers];

    const load = s.clientLoad(() => [api.url], { ratePerSecond: 40, durationMs: 45_000, maxInFlight: 400, retries: 60 });
    await sleep(6_000);
    down = true;
    const t0 = Date.now();
    // Members first, the seed last: the last node down is the one that may boot alone.
    for (const n of ['3', '2', '1']) await clusterScript('node-stop', n);
    const stopMs = Date.now() - t0;
    const readyDown = await fetch(`${api.url}/readyz`);
    expect(readyDown.status).toBe(503);
    await sleep(3_000);
    const t1 = Date.now();
    // A restart boots the seed first, then the members (scripts/cluster.sh); usually ~25 s, more on a loaded machine.
    process.env.WARREN_CLUSTER_WAIT ??= '240';
    await clusterScript('start');
    down = false;
    const startMs = Date.now() - t1;
    await waitUntil(async () => (await fetch(`${api.url}/readyz`)).ok, 60_000, 'API ready after the restart');
    // The restart reached every process: each lost its connection and reconnected by itself.
    await waitUntil(() => procs.every((p) => p.logCount(FAULT_LOG.connected) >= 2), 60_000, 'API and workers reconnected after the restart');
    const summary = await load.done;

    const bound = () => duplicateBound({ unknownOutcomes: load.unknownOutcomes(), prefetch: PREFETCH, deliveryLosses: deliveryLosses(workers) });
    const report = await s.finish({
      settleTimeoutMs: 120_000,
      notes: (r) => {
        const d = load.split(r.duplicateIds);
        return (
          `all 3 nodes stopped in ${stopMs} ms, down ~3 s, started again in ${startMs} ms; first answers ${JSON.stringify(summary.firstAnswers)}, ` +
          `${summary.retried} retries with the same Idempotency-Key. Duplicates: ${d.resent} re-sent by the client after a 503 whose publish had in fact been stored ` +
          `(the replica did not know the job yet, so it published again), ${d.other} redelivered because their ack died with the broker; ` +
          `bound ${bound()} (${load.unknownOutcomes()} answers with an unknown outcome + ${PREFETCH} x ${deliveryLosses(workers)} delivery losses); disconnects ${JSON.stringify(disconnectsByProcess(procs))}; ` +
          `the API's status tail lost its stream consumer ${api.proc.logCount(TAIL_LOST)} time(s) and resumed at its position ${api.proc.logCount(TAIL_RESUMED)} time(s)`
        );
      },
    });
    expect(summary.rejected).toBe(0);
    expect(summary.noAnswer).toBe(0);
    expect(report.accepted).toBe(summary.submitted);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(report.accepted);
    expect(report.succeeded).toBe(report.accepted);
    expect(report.deadLettered).toBe(0);
    expect(s.observer.deadLetters()).toBe(0);
    expect(report.unknownFinished).toBe(0);
    for (const p of procs) expect(p.logCount(FAULT_LOG.disconnected), `${p.name} disconnects`).toBeGreaterThanOrEqual(1);
    expect(report.duplicates).toBeLessThanOrEqual(bound());
    expect((await quorumQueueInfo(s.vhost, SCENARIO.workQueue)).members).toHaveLength(3);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  }, 420_000);
});
