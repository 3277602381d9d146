import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterScript, quorumQueueInfo } from './helpers/cluster-control.ts';
import { createScenario, LOCAL_CLUSTER, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort } from './helpers/warren-processes.ts';

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

  it('API answers 503 while no broker runs, warren reconnects by itself, and no accepted job is lost', async () => {
    const api = await s.startApi('api', await freePort());
    await s.startWorker('worker-1');
    await s.startWorker('worker-2');

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
    await clusterScript('start');
    down = false;
    const startMs = Date.now() - t1;
    await waitUntil(async () => (await fetch(`${api.url}/readyz`)).ok, 60_000, 'API ready after the restart');
    const summary = await load.done;

    const report = await s.finish({
      settleTimeoutMs: 120_000,
      notes: (r) => {
        const d = load.split(r.duplicateIds);
        return (
          `all 3 nodes stopped in ${stopMs} ms, down ~3 s, started again in ${startMs} ms; first answers ${JSON.stringify(summary.firstAnswers)}, ` +
          `${summary.retried} retries with the same Idempotency-Key. Duplicates: ${d.resent} re-sent by the client after a 503 whose publish had in fact been stored ` +
          `(the replica did not know the job yet, so it published again), ${d.other} redelivered because their ack died with the broker`
        );
      },
    });
    expect(summary.rejected).toBe(0);
    expect(summary.noAnswer).toBe(0);
    expect(report.accepted).toBe(summary.submitted);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(report.accepted);
    expect(report.unknownFinished).toBe(0);
    expect((await quorumQueueInfo(s.vhost, SCENARIO.workQueue)).members).toHaveLength(3);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
