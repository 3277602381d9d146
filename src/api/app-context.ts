import type { Tracer } from '@opentelemetry/api';
import { ENV_SETTINGS } from '../config/env-settings.ts';
import type { z } from 'zod';
import type { Topology } from '../config/topology-schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { BatchThread } from './batch-thread/batch-thread.ts';
import type { ConsoleBroker } from './console/console-broker.ts';
import type { DlqOperations } from './dlq-operations.ts';
import type { BodyBudget } from './http/body-budget.ts';
import type { ByteRate } from './http/byte-rate.ts';
import type { KeyLimiter } from './http/key-limiter.ts';
import type { IdempotencyGuard } from './jobs/idempotency-guard.ts';
import type { JobSubmitter, PublisherLike } from './jobs/job-submitter.ts';
import type { RouteCatalog } from '../jobs/route-catalog.ts';
import type { ApiMetrics } from './metrics/api-metrics.ts';
import type { JobEventSink } from './status/job-event-batcher.ts';
import type { JobHistory } from './status/job-history.ts';
import type { JobStatusIndex } from './status/job-status-index.ts';
import type { ReplyListener } from './openai/reply-listener.ts';
import type { UsageLedger } from './openai/usage-ledger.ts';

/** Size and time limits of the API, with their defaults. */
export interface ApiLimits {
  /** Max body of a single-job request (413 beyond). @default 1 MiB */
  maxBodyBytes: number;
  /** Max body of a batch request. @default 16 MiB */
  maxBatchBodyBytes: number;
  /** Max jobs per batch. @default 1000 */
  maxBatchItems: number;
  /** Longest `?wait=` accepted. @default 5 minutes */
  maxWaitMs: number;
  /** An SSE stream is closed after this long (clients reconnect). @default 1 hour */
  sseMaxMs: number;
  /** SSE comment sent this often to keep proxies from closing an idle stream. @default 15 s */
  sseHeartbeatMs: number;
  /** Confirm deadline of POST /v1/publish/{exchange}. @default 5 s */
  exchangePublishTimeoutMs: number;
  /** Max encoded size of a POST /v1/publish message's client headers (400 beyond; amqplib can't encode 64 KiB). @default 16 KiB */
  maxPublishHeaderBytes: number;
  /** Batch requests one API key may have in progress at once (429 beyond). @default 4 */
  maxBatchesPerKey: number;
  /** Batch body bytes one API key may send per second, with bursts of up to `maxBatchBodyBytes` (429 beyond). @default 2 MiB */
  batchBytesPerSecondPerKey: number;
  /** SSE streams one API key may have open at once (429 beyond). @default 100 */
  maxStreamsPerKey: number;
  /** Request body bytes the API reads and processes at once, all keys together (429 beyond). @default 48 MiB */
  bodyBudgetBytes: number;
  /** One API key's share of {@link ApiLimits.bodyBudgetBytes}; at least `maxBatchBodyBytes`. @default 24 MiB */
  bodyBudgetPerKeyBytes: number;
}

/** Defaults of {@link ApiLimits}, in one place. */
export const DEFAULT_API_LIMITS: ApiLimits = {
  maxBodyBytes: 1024 * 1024,
  maxBatchBodyBytes: 16 * 1024 * 1024,
  maxBatchItems: 1000,
  maxWaitMs: 5 * 60_000,
  sseMaxMs: 60 * 60_000,
  sseHeartbeatMs: 15_000,
  exchangePublishTimeoutMs: 5_000,
  maxPublishHeaderBytes: ENV_SETTINGS.apiMaxHeaderBytes.default,
  maxBatchesPerKey: ENV_SETTINGS.apiBatchesPerKey.default,
  batchBytesPerSecondPerKey: ENV_SETTINGS.apiBatchBytesPerSecond.default,
  maxStreamsPerKey: ENV_SETTINGS.apiStreamsPerKey.default,
  bodyBudgetBytes: ENV_SETTINGS.apiBodyBudget.default,
  bodyBudgetPerKeyBytes: ENV_SETTINGS.apiBodyBudgetPerKey.default,
};

/** What createApp needs. The composition root (start-api.ts) wires the real ones; unit tests pass narrow fakes. */
export interface ApiDeps {
  /** Routes and exchanges; queues, consumers and jobEvents name the exchanges only warren publishes to (see warrenOnlyExchanges). */
  topology: Pick<Topology, 'routes' | 'exchanges'> & Partial<Pick<Topology, 'queues' | 'consumers' | 'jobEvents' | 'openai'>>;
  publisher: PublisherLike;
  /**
   * Publisher of POST /v1/publish/{exchange} messages, whose headers the client
   * chose: start-api gives it channels of its own, one unconfirmed message each,
   * so a message the broker still refuses by closing its channel fails alone and
   * never the route jobs pipelined on `publisher`. @default publisher
   */
  exchangePublisher?: PublisherLike;
  /**
   * Publisher of batch jobs: a channel of their own, so that a batch's thousand messages are never
   * queued in the broker's channel process ahead of single jobs. @default publisher
   */
  batchPublisher?: PublisherLike;
  /**
   * Where batches are read, validated, built and published off the request thread (start-api gives
   * one); its publisher then publishes batch jobs, and `batchPublisher` is not used. @default none: in the request thread
   */
  batchThread?: BatchThread;
  index: JobStatusIndex;
  /**
   * Every job the job-events stream still holds (the index is its cache):
   * lookups, listing, idempotency over the whole retention. Without it, only
   * what the index holds is known.
   */
  history?: JobHistory;
  events: JobEventSink;
  auth: Authenticator;
  metrics: ApiMetrics;
  logger: Logger;
  /** Broker connection up (readiness). */
  isBrokerConnected(): boolean;
  /** The topology's exchanges and queues exist on the broker (readiness). */
  isTopologyApplied(): boolean;
  /** Payload schemas routes may name. @default BUILTIN_PAYLOAD_SCHEMAS */
  payloadSchemas?: Readonly<Record<string, z.ZodType>>;
  limits?: Partial<ApiLimits>;
  /** Aborted on shutdown: ends SSE streams and `?wait=` waits. */
  shutdown?: AbortSignal;
  /** OpenTelemetry tracer (OTEL_EXPORTER_OTLP_ENDPOINT): POST /v1/jobs/{route} records accept and publish spans. Off when absent. */
  tracer?: Tracer;
  /** Dead-letter operations behind /v1/dlq (admin scope); the endpoints are mounted only when given. */
  dlq?: DlqOperations;
  /** What the /console pages read from the broker besides the API (queue figures, drift, the whole topology). @default none: those parts say so */
  console?: ConsoleBroker;
  /** This replica's live reply queue (OpenAI front door): without it, answers come from the job events only and `stream: true` is refused. */
  replies?: ReplyListener;
  /** Per-key usage of the front door, fed from the job events by the composition root. @default a ledger fed only by this replica's admissions */
  usage?: UsageLedger;
}

/** Everything the route files share, resolved once by createApp. */
export interface AppContext {
  deps: ApiDeps;
  limits: ApiLimits;
  routes: RouteCatalog;
  submitter: JobSubmitter;
  /** Submits POST /v1/publish messages through `deps.exchangePublisher`. */
  exchangeSubmitter: JobSubmitter;
  /** Submits batch jobs through `deps.batchPublisher`. */
  batchSubmitter: JobSubmitter;
  guard: IdempotencyGuard;
  /** Batch requests in progress per key. */
  batchSlots: KeyLimiter;
  /** Batch body bytes per second per key. */
  batchRate: ByteRate;
  /** Open SSE streams per key. */
  streamSlots: KeyLimiter;
  /** In-flight request body bytes. */
  bodyBudget: BodyBudget;
  /** Per-key usage of the OpenAI front door. */
  usage: UsageLedger;
}
