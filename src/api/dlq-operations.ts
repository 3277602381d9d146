import type { z } from 'zod';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { ManagementClient } from '../broker/management-client.ts';
import type { Topology } from '../config/topology-schema.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { Logger } from '../observability/logger.ts';
import type { dlqGroupsSchema, dlqListingSchema, dlqPurgeReportSchema, dlqRequeueReportSchema } from './openapi/api-schemas.ts';

/**
 * What `/v1/dlq` needs from the dead-letter tooling. The API does not import
 * src/dlq (siblings don't import siblings): the composition root (src/cli)
 * passes src/dlq's `createDlqRequests`, and the compiler checks there that what
 * it returns has every field the OpenAPI schemas document, with the same types.
 * Property syntax (not methods) so parameters are checked strictly too.
 */
export interface DlqOperations {
  /** Summary and a page of matching dead letters; `query` is the request's query as received (values validated by the callee). */
  list: (queue: string, query: Readonly<Record<string, string | string[]>>) => Promise<z.input<typeof dlqListingSchema>>;
  /** Requeues what `body` (the parsed JSON body, undefined when empty) selects; a report with `error` means the run stopped early. */
  requeue: (queue: string, body: unknown, signal?: AbortSignal) => Promise<z.input<typeof dlqRequeueReportSchema>>;
  /** The matching dead letters in failure groups (origin, reason, error class); the queue is left as it was. */
  groups?: (queue: string, query: Readonly<Record<string, string | string[]>>) => Promise<z.input<typeof dlqGroupsSchema>>;
  /** Deletes what `body` selects (no filter: every message); `dryRun` counts. Same code as `warren dlq purge`. */
  purge?: (queue: string, body: unknown, signal?: AbortSignal) => Promise<z.input<typeof dlqPurgeReportSchema>>;
  /** Calls `write` with each matching dead letter (a line of `warren dlq export`), removing nothing. */
  export?: (queue: string, query: Readonly<Record<string, string | string[]>>, write: (line: object) => void | Promise<void>) => Promise<{ exported: number }>;
  /** The dead-letter queues of the topology (where its queues dead-letter to), for the console. */
  queues?: () => string[];
}

/** The API process's broker objects a DLQ implementation may use (one publish channel of its own keeps a DLQ's order). */
export interface DlqWiring {
  connection: BrokerConnection;
  publisher: ConfirmPublisher;
  management: ManagementClient;
  topology: Topology;
  /** The routes' payload schemas: a `--to-route` requeue checks each payload as a new job would be. */
  payloadSchemas: () => Promise<Readonly<Record<string, z.ZodType>>>;
  /** Emits a `requeued` job event per requeued job. */
  events: JobEventPublisher;
  /** The jobs the job events say are dead-lettered now (status/dead-letter-store.ts): failure groups without reading the queue. */
  deadLetters?: { ready(): boolean; waitUntilReady(timeoutMs: number): Promise<boolean>; records(): Iterable<{ event: JobEvent }>; version(): number };
  logger: Logger;
}

/** Builds the DLQ operations once the API has its connection; see {@link DlqOperations}. */
export type DlqOperationsFactory = (wiring: DlqWiring) => DlqOperations;
