import type { ConsumerConfig, RetryPolicyConfig } from '../config/topology-schema.ts';
import { ERROR_MESSAGE_MAX, ORDER_HEADERS } from '../jobs/headers.ts';
import type { BlockBook } from './block-book.ts';
import { classifyJobError } from './classify-job-error.ts';
import type { Delivery } from './delivery.ts';
import { decideDisposition } from './dispositions.ts';
import type { OrderingHooks } from './job-settler.ts';
import { orderKeyOf } from './ordered-lanes.ts';
import { safeErrorMessage } from './scrub-secrets.ts';

/** True for a delivery that carries an ordering key (a plain publish to an ordered queue has none and is never blocked). */
function keyed(key: string): boolean {
  return !key.startsWith('\u0000');
}

/** The settler hooks of an ordered consumer: block on dead-letter, release when the blocking job succeeds. */
export function createOrderingHooks(book: BlockBook): OrderingHooks {
  return {
    async deadLettered(d) {
      const key = orderKeyOf(d);
      const id = d.msg.properties.messageId;
      if (keyed(key) && typeof id === 'string') await book.block(key, id);
    },
    async succeeded(d) {
      const key = orderKeyOf(d);
      const id = d.msg.properties.messageId;
      if (keyed(key) && typeof id === 'string' && book.blockedBy(key) === id) await book.release(key, id);
    },
    blockedHeaders: (_d, blockedBy) => ({ [ORDER_HEADERS.blockedBy]: blockedBy }),
  };
}

/** A retry the worker runs itself, holding the delivery (and its key): how long to wait and what failed. */
export interface InPlaceRetryPlan {
  delayMs: number;
  error: { class: string; message: string };
}

/** Decides whether a failed ordered job is retried in place (see {@link createInPlaceRetry}). */
export type InPlaceRetry = (d: Delivery, err: unknown, timedOutAfterMs: number | undefined) => InPlaceRetryPlan | undefined;

/**
 * Ordered retries (docs/ordered-routes.md): a retry through a wait queue
 * would let the key's later jobs overtake the failed one, so an ordered
 * consumer retries in the worker instead. The disposition table decides as
 * everywhere (same classes, the queue's retry policy, `onError`); a retry
 * waits the policy's backoff (jitter only shortens it, a Retry-After
 * lengthens it) while the delivery stays unacked and its key's later jobs
 * wait behind it. Anything else goes to the settler as usual.
 */
export function createInPlaceRetry(options: { consumer: ConsumerConfig; policy: RetryPolicyConfig | undefined; secrets: readonly string[]; random?: () => number }): InPlaceRetry {
  const { consumer, policy, secrets } = options;
  const random = options.random ?? Math.random;
  const maxAttempts = policy?.attempts ?? 1;
  return (d, err, timedOutAfterMs) => {
    if (policy === undefined) return undefined;
    const f = classifyJobError(err, { timedOutAfterMs });
    const decision = decideDisposition({ errorClass: f.errorClass, attempt: d.attempt, maxAttempts, override: consumer.onError[f.errorClass] });
    if (decision.kind !== 'retry') return undefined;
    const base = policy.backoff[Math.min(d.attempt - 1, policy.backoff.length - 1)] ?? 0;
    const delayMs = Math.max(1, Math.round(Math.max(base * (1 - policy.jitter * random()), f.retryAfterMs ?? 0)));
    return { delayMs, error: { class: f.errorClass, message: safeErrorMessage(f.message, ERROR_MESSAGE_MAX, secrets) } };
  };
}
