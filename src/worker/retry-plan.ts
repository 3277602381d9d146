import type { RetryTier } from '../jobs/retry-tiers.ts';

/** Where and how long a retried job waits. */
export interface RetryPlan {
  /** Wait queue to publish to (through the default exchange). */
  queue: string;
  /** The wait actually scheduled, ms. */
  delayMs: number;
  /** Per-message `expiration` when shorter than the tier's TTL (jitter or Retry-After). */
  expiration?: string;
}

/** Inputs of {@link planRetry}. */
export interface RetryPlanInput {
  /** Distinct tiers of the queue, sorted ascending (from `retryTiers`). */
  tiers: readonly RetryTier[];
  /** The policy's backoff list as written: attempt n waits backoff[min(n-1, last)]. */
  backoff: readonly number[];
  /** 0..1: the delay is drawn from [delay * (1 - jitter), delay]. */
  jitter: number;
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** Minimum wait the provider or handler asked for. */
  retryAfterMs?: number | undefined;
  /** @default Math.random */
  random?: () => number;
}

/**
 * Picks the wait queue and delay for a retry. Jitter only shortens a delay,
 * so the tier's TTL is never exceeded; a Retry-After longer than the tier
 * moves to the smallest tier that covers it, and is capped by the largest
 * tier (the consumer's rate-limit pause holds the job for the rest).
 * Per-message expiry happens at the head of a wait queue, so a shortened wait
 * may last up to its tier's TTL, never longer.
 */
export function planRetry(input: RetryPlanInput): RetryPlan | undefined {
  const { tiers, backoff } = input;
  if (tiers.length === 0 || backoff.length === 0) return undefined;
  const random = input.random ?? Math.random;
  const base = backoff[Math.min(input.attempt - 1, backoff.length - 1)] ?? 0;
  const jittered = base * (1 - input.jitter * random());
  const wanted = Math.max(jittered, input.retryAfterMs ?? 0);
  const tier = tiers.find((t) => t.delayMs >= wanted) ?? (tiers[tiers.length - 1] as RetryTier);
  const delayMs = Math.max(1, Math.round(Math.min(wanted, tier.delayMs)));
  return delayMs < tier.delayMs ? { queue: tier.queue, delayMs, expiration: String(delayMs) } : { queue: tier.queue, delayMs: tier.delayMs };
}
