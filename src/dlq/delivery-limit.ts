/**
 * Each `warren dlq list` / `requeue` run returns the messages it leaves in place, and a quorum queue on
 * RabbitMQ before 4.3 counts that return as a delivery. A dead letter read more often than the queue's
 * delivery limit is dropped. These helpers decide when that is worth a warning: only when some message
 * (a fresh one, before a read) is within this many runs of the limit.
 */
export const DELIVERY_LIMIT_HEADROOM_RUNS = 100;

/** The queue facts the rule needs (from the management API). */
export interface DeliveryLimitFacts {
  /** classic, quorum or stream. */
  type: string | undefined;
  /** `x-delivery-limit` of the queue's arguments. */
  argument: unknown;
  /** `delivery-limit` of its effective policy. */
  policy: unknown;
  /** `deliveryLimit` topology.yaml declares for the queue (warren applies it as a policy): used while the management API doesn't show the policy yet. */
  declared?: number | undefined;
  /** e.g. 3.10.8; undefined when unknown. */
  brokerVersion: string | undefined;
}

/**
 * The delivery limit that list/requeue runs count against, or undefined when they don't: not a quorum
 * queue, RabbitMQ 4.3+ (returns are not counted), or no limit (-1, or unset on 3.x; unset on 4.0-4.2 is 20).
 */
export function countedDeliveryLimit(facts: DeliveryLimitFacts): number | undefined {
  if (facts.type !== 'quorum') return undefined;
  const [major = 3, minor = 0] = (facts.brokerVersion ?? '3.0').split('.').map(Number);
  if (major > 4 || (major === 4 && minor >= 3)) return undefined;
  // With both set, the lower one applies.
  const policy = typeof facts.policy === 'number' ? facts.policy : facts.declared;
  const given = [facts.argument, policy].filter((v): v is number => typeof v === 'number');
  if (given.length === 0) return major >= 4 ? 20 : undefined;
  const limit = Math.min(...given);
  return limit >= 0 ? limit : undefined;
}

/** The warning before a run: even a message never read before is within reach of the limit. */
export function deliveryLimitWarning(queue: string, limit: number | undefined): string | undefined {
  if (limit === undefined || limit > DELIVERY_LIMIT_HEADROOM_RUNS) return undefined;
  return `quorum queue '${queue}' has a delivery limit of ${limit}: each list/requeue run counts one delivery for the messages it leaves in place, so a dead letter is dropped after about ${limit} runs; set deliveryLimit high (or -1 on RabbitMQ 4.x) on dead-letter queues`;
}

/** The delivery counts (`x-delivery-count`) seen while reading a queue. */
export interface DeliveryCountTally {
  /** Highest count seen. */
  max: number;
  /** Messages within {@link DELIVERY_LIMIT_HEADROOM_RUNS} runs of the limit. */
  near: number;
}

/** Counts one message's `x-delivery-count` header (absent: never returned) into the tally. */
export function tallyDeliveryCount(tally: DeliveryCountTally, headers: Record<string, unknown> | undefined, limit: number | undefined): void {
  const raw = headers?.['x-delivery-count'];
  const count = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : 0;
  if (count > tally.max) tally.max = count;
  if (limit !== undefined && limit - count <= DELIVERY_LIMIT_HEADROOM_RUNS) tally.near++;
}

/** The warning after a read: some messages were read so often that the limit is close (unless the warning before the run said it already). */
export function deliveryCountWarning(queue: string, limit: number | undefined, tally: DeliveryCountTally): string | undefined {
  if (limit === undefined || tally.near === 0 || deliveryLimitWarning(queue, limit) !== undefined) return undefined;
  const left = Math.max(0, limit - tally.max);
  return `${tally.near} message${tally.near === 1 ? '' : 's'} in '${queue}' ${tally.near === 1 ? 'was' : 'were'} already returned up to ${tally.max} time${tally.max === 1 ? '' : 's'}: the queue's delivery limit of ${limit} drops ${tally.near === 1 ? 'it' : 'them'} after about ${left} more list/requeue runs; raise deliveryLimit on '${queue}' (or -1 on RabbitMQ 4.x)`;
}
