import type { ManagedProcess } from './spawn-process.ts';

/**
 * What warren logs when a fault reaches it (src/broker/broker-connection.ts, src/worker/consumer-runtime.ts):
 * the scenarios count these lines to assert that the fault they inject really happened to every process,
 * instead of passing when it was a no-op.
 */
export const FAULT_LOG = {
  connected: 'connected to RabbitMQ',
  disconnected: 'disconnected from RabbitMQ; reconnecting',
  consumerChannelLost: 'consumer channel closed; its unacked deliveries return to the queue and will be redelivered',
} as const;

/** Times warren's processes reported losing their broker connection, per process name. */
export function disconnectsByProcess(procs: readonly ManagedProcess[]): Record<string, number> {
  return Object.fromEntries(procs.map((p) => [p.name, p.logCount(FAULT_LOG.disconnected)]));
}

/**
 * Times the workers lost the deliveries they held unacked (their connection, or just the consumer channel).
 * Each loss hands at most `prefetch` jobs back to the broker, so it bounds the redeliveries a fault can cause.
 */
export function deliveryLosses(workers: readonly ManagedProcess[]): number {
  return workers.reduce((n, w) => n + w.logCount(FAULT_LOG.disconnected) + w.logCount(FAULT_LOG.consumerChannelLost), 0);
}

/**
 * The most duplicates a scenario can explain: one per answer after which the client could not know whether
 * its job was stored (it re-sent it, and the replica published it again), plus `prefetch` per time a worker
 * lost its unacked deliveries (results published, acks lost: the broker redelivers them).
 */
export function duplicateBound(o: { unknownOutcomes: number; prefetch: number; deliveryLosses: number }): number {
  return o.unknownOutcomes + o.prefetch * o.deliveryLosses;
}

/** A counter or gauge of a Prometheus text endpoint, summed over its label sets (0 when absent). */
export async function scrapeMetric(url: string, name: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m?.[1] === name) sum += Number(m[3]);
  }
  return sum;
}
