import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { ManagementClient } from '../broker/management-client.ts';
import type { z } from 'zod';
import type { Topology } from '../config/topology-schema.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { Logger } from '../observability/logger.ts';
import type { RequeueJournal } from './requeue-journal.ts';

/** Collaborators of the DLQ service (the CLI and the API wire real ones). */
export interface DlqDeps {
  /** Connection the exclusive reading channel is opened on. */
  connection: BrokerConnection;
  /** Confirm publisher used to republish (one channel keeps the DLQ order in the origin). */
  publisher: ConfirmPublisher;
  management: ManagementClient;
  topology: Topology;
  /** Payload schemas routes may name, loaded when a `--to-route` requeue needs one. @default the built-in ones */
  payloadSchemas?: () => Promise<Readonly<Record<string, z.ZodType>>>;
  /** Emits a `requeued` job event per requeued job, when given. */
  events?: JobEventPublisher;
  /** Journal of one queue; default: in-memory (no dedupe across processes). */
  journal?: (vhost: string, queue: string) => RequeueJournal;
  logger?: Logger;
  /** @default Date.now */
  now?: () => number;
  /** How long to wait for the AMQP connection. @default 10000 */
  connectTimeoutMs?: number;
}
