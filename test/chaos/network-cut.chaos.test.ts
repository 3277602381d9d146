import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryLosses, disconnectsByProcess, duplicateBound, FAULT_LOG } from './helpers/fault-evidence.ts';
import { createScenario, SINGLE_BROKER, type Scenario } from './helpers/scenario.ts';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { waitUntil } from './helpers/wait-until.ts';
import { freePort } from './helpers/warren-processes.ts';

const HEARTBEAT_S = 2;
/** Consumer prefetch of the scenario topology (its default). */
const PREFETCH = 50;

describe('network between warren and the broker: cut, then a silent stall longer than the heartbeat', () => {
  let s: Scenario;
  let proxy: TcpProxy;
  beforeAll(async () => {
    const broker = new URL(SINGLE_BROKER.amqpUrls[0] as string);
    proxy = await createTcpProxy({ targetPort: Number(broker.port || 5672), targetHost: broker.hostname });
    // API and workers reach the broker only through the proxy; the observer connects directly.
    s = await createScenario('network', {
      llm: { latencyMs: 50 },
      topology: { heartbeat: HEARTBEAT_S, publishTimeout: '3s' },
      warrenUrls: (urls) => urls.map((u) => proxy.rewrite(u)),
    });
  });
  afterAll(async () => {
    await s?.cleanup();
    await proxy?.close();
  });

  it('every process loses and regains its connection twice by itself; 503s while cut off, retried with the Idempotency-Key; every job succeeds, duplicates within what the faults explain', async () => {
    const api = await s.startApi('api', await freePort());
    const workers = [await s.startWorker('worker-1'), await s.startWorker('worker-2')];
    const procs = [api.proc, ...workers];
    const connects = (n: number) => procs.every((p) => p.logCount(FAULT_LOG.connected) >= n);

    // A client that honours 503 + Retry-After and keeps its Idempotency-Key.
    const load = s.clientLoad(() => [api.url], { ratePerSecond: 50, durationMs: 24_000, maxInFlight: 200, retries: 30 });

    await sleep(4_000);
    proxy.cut(); // RST on every connection, new ones refused: a broker that died or a pulled cable
    await sleep(3 * HEARTBEAT_S * 1000);
    proxy.restore();
    await waitUntil(async () => (await fetch(`${api.url}/readyz`)).ok, 30_000, 'API ready after the cut');
    // Every process came back on its own before the second fault (so the stall hits live connections).
    await waitUntil(() => connects(2), 30_000, 'API and workers reconnected after the cut');

    await sleep(3_000);
    proxy.stall(); // nothing moves, nothing closes: only heartbeats can tell
    await sleep(4 * HEARTBEAT_S * 1000);
    proxy.restore();
    const summary = await load.done;

    const first503 = Object.entries(summary.firstAnswers)
      .filter(([k]) => k.startsWith('503'))
      .reduce((n, [, v]) => n + v, 0);
    const bound = () => duplicateBound({ unknownOutcomes: load.unknownOutcomes(), prefetch: PREFETCH, deliveryLosses: deliveryLosses(workers) });
    const report = await s.finish({
      settleTimeoutMs: 60_000,
      notes: (r) => {
        const d = load.split(r.duplicateIds);
        return (
          `first answers ${JSON.stringify(summary.firstAnswers)}, ${summary.retried} retries, proxy saw ${proxy.acceptedTotal()} connections. ` +
          `Duplicates: ${d.resent} re-sent after a 503 whose publish had been stored ("may not be stored": the replica did not know the job yet, so it published again), ` +
          `${d.other} redelivered because their ack died with the connection; bound ${bound()} (${load.unknownOutcomes()} answers with an unknown outcome + ${PREFETCH} x ${deliveryLosses(workers)} delivery losses); disconnects ${JSON.stringify(disconnectsByProcess(procs))}`
        );
      },
    });
    // Both faults reached every process: each logged two lost connections (the cut, then the stall once
    // heartbeats noticed it) and came back by itself each time.
    for (const p of procs) {
      expect(p.logCount(FAULT_LOG.disconnected), `${p.name} disconnects`).toBeGreaterThanOrEqual(2);
    }
    await waitUntil(() => connects(3), 30_000, 'API and workers reconnected after the stall');
    // While the broker was unreachable the API said so at once (503 + Retry-After) instead of buffering.
    expect(first503).toBeGreaterThan(0);
    expect(summary.noAnswer).toBe(0);
    expect(summary.rejected).toBe(0);
    expect(report.accepted).toBe(summary.submitted);
    expect(report.lost).toBe(0);
    expect(report.finished).toBe(report.accepted);
    expect(report.succeeded).toBe(report.accepted);
    expect(report.deadLettered).toBe(0);
    expect(s.observer.deadLetters()).toBe(0);
    expect(report.unknownFinished).toBe(0);
    // Every duplicate is explained: a re-send after an answer that left the outcome unknown, or a redelivery
    // of at most `prefetch` jobs each time a worker lost its unacked deliveries.
    expect(report.duplicates).toBeLessThanOrEqual(bound());
    // Both failures forced reconnects through the proxy.
    expect(proxy.acceptedTotal()).toBeGreaterThan(3);
    expect(await s.nonTerminalInStatusView(api.url, s.ledger.acceptedIds())).toEqual([]);
  });
});
