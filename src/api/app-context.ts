import type { Hono } from 'hono';
import type { z } from 'zod';
import type { Topology } from '../config/topology-schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { IdempotencyGuard } from './jobs/idempotency-guard.ts';
import type { JobSubmitter, PublisherLike } from './jobs/job-submitter.ts';
import type { RouteCatalog } from './jobs/route-catalog.ts';
import type { ApiMetrics } from './metrics/api-metrics.ts';
import type { JobEventSink } from './status/job-event-batcher.ts';
import type { JobHistory } from './status/job-history.ts';
import type { JobStatusIndex } from './status/job-status-index.ts';

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
};

/** What createApp needs. The composition root (start-api.ts) wires the real ones; unit tests pass narrow fakes. */
export interface ApiDeps {
  topology: Pick<Topology, 'routes' | 'exchanges'>;
  publisher: PublisherLike;
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
  /** Dead-letter endpoints (src/dlq), mounted at /v1/dlq behind the `admin` scope when given. */
  dlq?: Hono;
}

/** Everything the route files share, resolved once by createApp. */
export interface AppContext {
  deps: ApiDeps;
  limits: ApiLimits;
  routes: RouteCatalog;
  submitter: JobSubmitter;
  guard: IdempotencyGuard;
}
