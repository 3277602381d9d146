import { formatDuration } from '../config/duration.ts';
import type { Topology } from '../config/topology-schema.ts';

/**
 * Retry tiers: how a queue's retry policy becomes wait queues. Topology apply
 * declares them, the worker publishes retries into them and the DLQ tooling
 * maps them back to their work queue, so all three read this one computation.
 */

/** One backoff tier of a queue's retry policy. */
export interface RetryTier {
  delayMs: number;
  /** Wait queue that holds messages for `delayMs`, then dead-letters them back to the work queue. */
  queue: string;
}

/** Name of the wait queue for one tier: `<queue>.retry.<delay>`, e.g. `llm.standard.retry.10s`. */
export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${formatDuration(delayMs)}`;
}

/** The distinct, sorted retry tiers of a queue (empty when it has no retry policy). */
export function retryTiers(topology: Pick<Topology, 'queues' | 'retryPolicies'>, queue: string): RetryTier[] {
  const policyName = topology.queues[queue]?.retry;
  const policy = policyName === undefined ? undefined : topology.retryPolicies[policyName];
  if (!policy) return [];
  return [...new Set(policy.backoff)].sort((a, b) => a - b).map((delayMs) => ({ delayMs, queue: retryQueueName(queue, delayMs) }));
}
