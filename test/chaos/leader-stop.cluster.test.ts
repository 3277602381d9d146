import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNodeNumber, clusterScript, quorumQueueInfo } from './helpers/cluster-control.ts';
import { deliveryLosses, disconnectsByProcess, duplicateBound } from './helpers/fault-evidence.ts';
import { createScenario, LOCAL_CLUSTER, type Scenario } from './helpers/scenario.ts';
import { SCENARIO } from './helpers/scenario-topology.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort, type ApiProcess } from './helpers/warren-processes.ts';

/** Consumer prefetch of the scenario topology (its default). */
const PREFETCH = 50;

describe('cluster: stop the node holding the quorum queue leader mid-load, then bring it back', () => {
  let s: Scenario;
  let stopped: number | undefined;
  beforeAll(async () => {
    s = await createScenario('leader-stop', { broker: LOCAL_CLUSTER, llm: { latencyMs: 50 } });
  });
  afterAll(async () => {
    if (stopped !== undefined) await clusterScript('node-start', String(stopped)).catch(() => undefined);
    await s?.cleanup();
  });

  it('fails over to the new leader; every accepted job succeeds once the node is back, duplicates within what the faults explain', async () => {
    const before = await quorumQueueInfo(s.vhost, SCENARIO.workQueue);
    // The shipped topology's quorum queues replicate to every node of a 3-node cluster.
    expect(before.members).toHaveLength(3);
    expect(before.online).toHaveLength(3);

    const apis: ApiProcess[] = [await s.startApi('api-1', await freePort()), await s.startApi('api-2', await freePort())];
    const workers = [await s.startWorker('worker-1'), await s.startWorker('worker-2')];

    const load = s.clientLoad(() => apis.map((a) => a.url), { ratePerSecond: 60, durationMs: 40_000, maxInFlight: 200, retries: 40 });
    await sleep(8_000);
    const leader = (await quorumQueueInfo(s.vhost, SCENARIO.workQueue)).leader;
    stopped = clusterNodeNumber(leader);
    const t0 = Date.now();
    await clusterScript('node-stop', String(stopped));
    const stopMs = Date.now() - t0;
    await waitUntil(async () => {
      const q = await quorumQueueInfo(s.vhost, SCENARIO.workQueue);
      return q.leader !== '' && q.leader !== leader && q.online.length === 2;
    }, 30_000, 'a new leader on the two remaining nodes');
    const during = await quorumQueueInfo(s.vhost, SCENARIO.workQueue);
    await sleep(8_000);
    await clusterScript('node-start', String(stopped));
    const restarted = stopped;
    stopped = undefined;
    const summary = await load.done;

    const bound = () => duplicateBound({ unknownOutcomes: load.unknownOutcomes(), prefetch: PREFETCH, deliveryLosses: deliveryLosses(workers) });
    const report = await s.finish({
      settleTimeoutMs: 120_000,
      notes: (r) => {
        const d = load.split(r.duplicateIds);
        return (
          `leader ${leader} stopped (${stopMs} ms), new leader ${during.leader}; node ${restarted} back and in sync; ` +
          `first answers ${JSON.stringify(summary.firstAnswers)}, ${summary.retried} retries; duplicates: ${d.resent} re-sent after a 503, ${d.other} redelivered (ack lost with the stopped node's connections); ` +
          `bound ${bound()} (${load.unknownOutcomes()} answers with an unknown outcome + ${PREFETCH} x ${deliveryLosses(workers)} delivery losses); disconnects ${JSON.stringify(disconnectsByProcess([...apis.map((a) => a.proc), ...workers]))}`
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
    expect(report.duplicates).toBeLessThanOrEqual(bound());
    await waitUntil(async () => (await quorumQueueInfo(s.vhost, SCENARIO.workQueue)).online.length === 3, 60_000, 'the stopped member back online');
    expect(await s.nonTerminalInStatusView(apis[0]?.url as string, s.ledger.acceptedIds())).toEqual([]);
  });
});
