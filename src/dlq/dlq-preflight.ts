import { seg, type ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError } from '../errors/index.ts';
import { countedDeliveryLimit, deliveryLimitWarning } from './delivery-limit.ts';
import { DlqError } from './dlq-error.ts';
import type { DlqTopology } from './dlq-topology.ts';

/** What the DLQ tooling learned about a queue before touching it. */
export interface QueueFacts {
  queue: string;
  /** classic, quorum or stream; undefined when the management API is unreachable. */
  type: string | undefined;
  /** Queues of the topology that dead-letter into this one (empty: not a DLQ of the topology). */
  sources: string[];
  isDeadLetterQueue: boolean;
  managementAvailable: boolean;
  brokerVersion: string | undefined;
  /** The delivery limit list/requeue runs count against (quorum queues before RabbitMQ 4.3), if any. */
  deliveryLimit: number | undefined;
  /** Human-readable warnings (printed by the CLI, returned by the API). */
  warnings: string[];
}

interface QueueJson {
  type?: string;
  arguments?: Record<string, unknown>;
  effective_policy_definition?: Record<string, unknown>;
}

/**
 * Checks a queue before a DLQ operation: it exists (404 -> DLQ_QUEUE_NOT_FOUND),
 * it isn't a stream, it is a dead-letter queue of the topology (or `force`),
 * and warns when a quorum DLQ's delivery limit is low enough to drop messages
 * that are only being read (every read returns the messages it leaves in
 * place, which counts as a delivery on RabbitMQ before 4.3; see delivery-limit.ts).
 * A management API that is down is a warning, not an error: the AMQP side
 * re-checks the queue and the requeue itself needs only AMQP.
 */
export async function preflightQueue(opts: {
  management: ManagementClient;
  vhost: string;
  queue: string;
  dlqTopology: DlqTopology;
  /** Refuse a queue that isn't a DLQ of the topology unless forced. */
  requireDeadLetterQueue: boolean;
  force: boolean;
}): Promise<QueueFacts> {
  const { management, vhost, queue, dlqTopology } = opts;
  const warnings: string[] = [];
  const sources = dlqTopology.sourcesOf(queue);
  const isDeadLetterQueue = dlqTopology.deadLetterQueues.has(queue);
  let type: string | undefined;
  let brokerVersion: string | undefined;
  let managementAvailable = true;
  let info: QueueJson | undefined;
  try {
    info = await management.get<QueueJson>(`/queues/${seg(vhost)}/${seg(queue)}`);
    type = info.type;
    brokerVersion = (await management.get<{ rabbitmq_version?: string }>('/overview')).rabbitmq_version;
  } catch (err) {
    if (err instanceof ManagementApiError && err.status === 404) {
      const known = Object.keys(dlqTopology.topology.queues).includes(queue) ? ' (it is in topology.yaml: run warren topology apply)' : '';
      throw new DlqError('DLQ_QUEUE_NOT_FOUND', `queue '${queue}' does not exist in vhost '${vhost}'${known}`, { cause: err });
    }
    managementAvailable = false;
    warnings.push(`management API unavailable (${(err as Error).message.split('. ')[0]}); continuing over AMQP only, without the queue type and delivery-limit checks`);
  }

  if (type === 'stream') {
    throw new DlqError('DLQ_UNSUPPORTED_QUEUE', `queue '${queue}' is a stream: messages can't be removed from a stream, so it can't be a dead-letter queue warren requeues from`);
  }
  if (!isDeadLetterQueue) {
    const dlqs = [...dlqTopology.deadLetterQueues];
    const hint = dlqs.length > 0 ? ` (dead-letter queues in the topology: ${dlqs.join(', ')})` : '';
    const text = `queue '${queue}' is not a dead-letter queue of anything in the topology${hint}`;
    if (opts.requireDeadLetterQueue && !opts.force) {
      throw new DlqError('DLQ_NOT_A_DEAD_LETTER_QUEUE', `${text}; pass --force to use it anyway`);
    }
    warnings.push(text);
  }
  const deliveryLimit = info
    ? countedDeliveryLimit({ type, argument: info.arguments?.['x-delivery-limit'], policy: info.effective_policy_definition?.['delivery-limit'], declared: dlqTopology.topology.queues[queue]?.deliveryLimit, brokerVersion })
    : undefined;
  const limitWarning = deliveryLimitWarning(queue, deliveryLimit);
  if (limitWarning !== undefined) warnings.push(limitWarning);
  return { queue, type, sources, isDeadLetterQueue, managementAvailable, brokerVersion, deliveryLimit, warnings };
}
