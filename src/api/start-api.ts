import type { Tracer } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { z } from 'zod';
import { createBrokerConnection, type BrokerConnection } from '../broker/broker-connection.ts';
import { createConfirmPublisher } from '../broker/confirm-publisher.ts';
import { createManagementClient, seg } from '../broker/management-client.ts';
import type { WarrenConfig } from '../config/env-settings.ts';
import { defaultConfig } from '../config/load-config.ts';
import { loadTopology, type LoadedTopology } from '../config/load-topology.ts';
import type { Topology } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { loadPayloadSchemas } from '../consumer-modules/load-payload-schemas.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { loadJobEventKeyring } from '../jobs/job-event-key.ts';
import { createJobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { JobEventKeyring } from '../jobs/job-event-signature.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { ensureTopology } from '../topology/ensure-topology.ts';
import { apiLimitsFromConfig, checkApiLimits } from './api-limits-env.ts';
import { serverTimeoutOptions, serverTimeoutsFromConfig, type ServerTimeouts } from './http/server-timeouts.ts';
import { DEFAULT_API_LIMITS, type ApiLimits } from './app-context.ts';
import { loadAuthConfig, parseApiKeysEnv, type AuthConfig } from './auth/api-keys.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { createApp, type WarrenApp } from './create-app.ts';
import { createBatchThread } from './batch-thread/batch-thread.ts';
import { createConsoleBroker } from './console/console-broker.ts';
import type { DlqOperationsFactory } from './dlq-operations.ts';
import { createApiMetrics } from './metrics/api-metrics.ts';
import { createCostMetrics } from './openai/cost-metrics.ts';
import { createReplyListener } from './openai/reply-listener.ts';
import { createUsageLedger } from './openai/usage-ledger.ts';
import { createDeadLetterCheckpoints, type DeadLetterCheckpoints } from './status/dead-letter-checkpoints.ts';
import { createDeadLetterStore } from './status/dead-letter-store.ts';
import { createJobEventBatcher } from './status/job-event-batcher.ts';
import { createStreamReader } from './status/stream-reader.ts';
import { registerHistoryMetrics } from './status/history-metrics.ts';
import { createJobHistory, type JobHistory } from './status/job-history.ts';
import { createJobStatusIndex, type JobStatusIndex } from './status/job-status-index.ts';
import { legacyRetentionWarning } from './status/retention-check.ts';
import { apiTopologyNeeds, createTopologyProbe } from './topology-probe.ts';

/** Options of {@link startApi}. What is not given comes from `config` (the settings loaded once from the environment). */
export interface StartApiOptions {
  /** The loaded topology (or a parsed Topology object); give this or `topologyFile`. */
  topology?: LoadedTopology | Topology;
  /** Path of topology.yaml, loaded when `topology` is absent. @default config.topologyFile (WARREN_TOPOLOGY) */
  topologyFile?: string;
  /** 0: any free port. @default config.apiPort (WARREN_API_PORT) */
  port?: number;
  /** @default config.apiHost (WARREN_API_HOST) */
  host?: string;
  /** API keys: an AuthConfig, or the `WARREN_API_KEYS` format. @default loadAuthConfig(config) (WARREN_API_KEYS, WARREN_API_KEYS_FILE, WARREN_AUTH) */
  apiKeys?: AuthConfig | string;
  logger?: Logger;
  /** Apply the topology (create what is missing, never delete) before serving. @default false */
  applyTopology?: boolean;
  /** Readiness source for "topology applied". @default passive checks of the route exchanges and the job-events stream */
  isTopologyApplied?: () => boolean;
  /** Payload schemas. @default built-in ones plus `consumers/schemas/*` for a LoadedTopology */
  payloadSchemas?: Readonly<Record<string, z.ZodType>>;
  /** Share a connection (e.g. `warren start all`); it is not closed by close(). @default a new connection */
  connection?: BrokerConnection;
  /** How long to wait for the broker at start. @default 15000 */
  connectTimeoutMs?: number;
  /** Confirm channels of the publisher (see ConfirmPublisherOptions.channels). @default 1 */
  publisherChannels?: number;
  /** Channels of POST /v1/publish messages, one unconfirmed message each (see ApiDeps.exchangePublisher). @default 8 */
  exchangePublisherChannels?: number;
  /** Limits; each one given here wins over its environment variable (WARREN_API_*, src/config/env-settings.ts), which wins over DEFAULT_API_LIMITS. */
  limits?: Partial<ApiLimits>;
  /** OpenTelemetry tracer: accept and publish spans of POST /v1/jobs/{route}. @default none (tracing off) */
  tracer?: Tracer;
  /** Keep-alive, headers and request timers of the HTTP server. @default from config (WARREN_API_KEEP_ALIVE_TIMEOUT ...) */
  timeouts?: ServerTimeouts;
  /** Serve /openapi.json and /docs without a key. @default config.apiPublicDocs (WARREN_API_PUBLIC_DOCS) */
  publicDocs?: boolean;
  /** Collect Node process metrics. @default true */
  processMetrics?: boolean;
  /** Signs and verifies job events. @default loaded by loadJobEventKeyring (WARREN_EVENT_KEY, else the broker) */
  eventKeys?: JobEventKeyring;
  /** Dead-letter operations for /v1/dlq, built on this process's connection (`warren start` passes src/dlq's). @default none: /v1/dlq is not served */
  dlq?: DlqOperationsFactory;
  /** Settings loaded once at start (src/config). @default the declared defaults (defaultConfig()) */
  config?: WarrenConfig;
  /**
   * Batches in a worker thread with a broker connection of its own (src/api/batch-thread). Needs the API's own
   * connection and payload schemas the thread can load itself (none given here). @default config.apiBatchThread (WARREN_API_BATCH_THREAD)
   */
  batchThread?: boolean;
  /**
   * When the batch thread starts: with the API (`boot`), or with the first batch (`first-batch`: a replica that never
   * gets one has no thread and no connection for it). @default config.apiBatchThreadStart (WARREN_API_BATCH_THREAD_START)
   */
  batchThreadStart?: 'boot' | 'first-batch';
  /** A batch thread that exited is started again after this long (batches meanwhile are answered 503 at once). @default 1000 */
  batchThreadRestartMs?: number;
}

/** A running API server. */
export interface RunningApi {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  app: WarrenApp;
  index: JobStatusIndex;
  /** Every job the job-events stream holds; the index is its cache. */
  history: JobHistory;
  /** The jobs dead-lettered now by the job events (the DLQ failure groups' source) and how they were restored at the last tail start. */
  deadLetters: Pick<DeadLetterCheckpoints, 'waitUntilReady' | 'lastRestore'>;
  /** Stops accepting requests, ends SSE streams, flushes job events, closes channels (and the connection if it owns it). */
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

async function resolveTopology(options: StartApiOptions, config: WarrenConfig): Promise<{ topology: Topology; consumersDir: string | undefined }> {
  const given = options.topology;
  if (given !== undefined) {
    return 'topology' in given && 'file' in given ? { topology: given.topology, consumersDir: given.consumersDir } : { topology: given as Topology, consumersDir: undefined };
  }
  // `${VAR}` in the file is the file's own business: interpolated from the process environment.
  const loaded = loadTopology(options.topologyFile ?? config.topologyFile, { checkHandlers: false });
  return { topology: loaded.topology, consumersDir: loaded.consumersDir };
}

/**
 * The composition root of the API: connection, confirm publisher, status index
 * fed by the job-events stream, and the HTTP server. Used by `warren start api`
 * and `warren start all`.
 */
export async function startApi(options: StartApiOptions = {}): Promise<RunningApi> {
  const config = options.config ?? defaultConfig();
  const logger = (options.logger ?? createLogger({ name: 'warren', level: config.logLevel, format: config.logFormat })).child({ component: 'api' });
  const { topology, consumersDir } = await resolveTopology(options, config);
  const auth: AuthConfig =
    typeof options.apiKeys === 'string' ? { mode: 'keys', keys: parseApiKeysEnv(options.apiKeys) } : (options.apiKeys ?? loadAuthConfig(config));
  const port = options.port ?? config.apiPort;
  const host = options.host ?? config.apiHost;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new WarrenError('API_PORT_INVALID', `API port must be 0-65535, got '${String(port)}'`);
  if (auth.mode === 'none' && !isLoopback(host)) {
    logger.warn({ host }, 'WARREN_AUTH=none on a non-loopback interface: anyone who can reach this port can publish jobs');
  }
  const limits: Partial<ApiLimits> = { ...apiLimitsFromConfig(config), ...options.limits };
  // Before connecting: contradictory limits fail the start without leaving a connection behind.
  checkApiLimits({ ...DEFAULT_API_LIMITS, ...limits });
  const timeouts = options.timeouts ?? serverTimeoutsFromConfig(config);
  const payloadSchemas = options.payloadSchemas ?? (consumersDir !== undefined ? await loadPayloadSchemas(topology, consumersDir) : BUILTIN_PAYLOAD_SCHEMAS);
  const unsignedBefore = config.eventUnsignedBefore;

  if (options.applyTopology === true) {
    await ensureTopology(topology, createManagementClient({ url: topology.connection.management }), logger);
  }

  const ownsConnection = options.connection === undefined;
  const connection =
    options.connection ??
    createBrokerConnection({
      urls: topology.connection.urls,
      vhost: topology.connection.vhost,
      heartbeat: topology.connection.heartbeat,
      name: `warren-api-${process.pid}`,
      logger,
    });
  let eventKeys: JobEventKeyring;
  try {
    const live = await connection.waitForConnection(options.connectTimeoutMs ?? 15_000);
    eventKeys =
      options.eventKeys ??
      (await loadJobEventKeyring({ key: config.eventKey, previousKey: config.eventKeyPrevious, vhost: topology.connection.vhost, management: createManagementClient({ url: topology.connection.management }), connection: live, logger }));
  } catch (err) {
    if (ownsConnection) await connection.close().catch(() => undefined);
    throw err;
  }

  // Batches and client-built raw publishes travel on a connection of their own: RabbitMQ reads each connection's
  // frames in order and applies flow control per connection, so one tenant's 16 MiB batch on the shared socket
  // would hold every other tenant's single job (and its confirm) behind it. A given connection (tests, a shared
  // process) is used for everything, as before.
  const bulkConnection = ownsConnection
    ? createBrokerConnection({
        urls: topology.connection.urls,
        vhost: topology.connection.vhost,
        heartbeat: topology.connection.heartbeat,
        name: `warren-api-bulk-${process.pid}`,
        logger,
      })
    : connection;
  if (bulkConnection !== connection) {
    try {
      await bulkConnection.waitForConnection(options.connectTimeoutMs ?? 15_000);
    } catch (err) {
      await Promise.all([connection.close(), bulkConnection.close()]).catch(() => undefined);
      throw err;
    }
  }
  const publisher = createConfirmPublisher({ connection, ...(options.publisherChannels === undefined ? {} : { channels: options.publisherChannels }), logger });
  // Messages whose headers a client chose never share a channel with route jobs, nor with each other while
  // unconfirmed: the API refuses every header the broker is known to choke on, and if the broker still
  // closes a channel over a message, the publish that caused it is the only one that fails.
  const exchangePublisher = createConfirmPublisher({ connection: bulkConnection, channels: options.exchangePublisherChannels ?? 8, maxInFlightPerChannel: 1, logger });
  // Batches in a thread of their own, with a connection of its own (api/batch-thread, started now or with the first batch),
  // when the thread can build the same routes (it loads the payload schemas itself); else on a channel of their own: the
  // broker handles a channel's messages in order.
  const batchThread =
    (options.batchThread ?? config.apiBatchThread) && ownsConnection && options.payloadSchemas === undefined
      ? createBatchThread({
          topology,
          consumersDir,
          payloadBytes: topology.jobEvents.payloadBytes,
          logLevel: logger.level,
          logFormat: config.logFormat,
          logger,
          bytesPerSecond: config.apiBatchPace,
          ...(options.batchThreadRestartMs === undefined ? {} : { restartMs: options.batchThreadRestartMs }),
        })
      : undefined;
  // Started with the API, its start-up (loading and compiling warren in the thread) is paid at boot, not while the first
  // batch's key and every other key are being served. Readiness waits for its connection once it runs.
  if ((options.batchThreadStart ?? config.apiBatchThreadStart) === 'boot') batchThread?.start();
  const batchPublisher = batchThread === undefined ? createConfirmPublisher({ connection: bulkConnection, channels: 1, logger }) : undefined;
  const index = createJobStatusIndex({ capacity: topology.jobEvents.indexSize });
  // This process's id on its own job-event messages: it applied them to its index already, its tail skips them.
  const replicaId = randomUUID();
  const metrics = createApiMetrics(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics });
  const events = createJobEventBatcher({ publisher, exchange: topology.jobEvents.exchange, signer: eventKeys, logger, replicaId });
  const retention = { stream: topology.jobEvents.stream, maxAgeMs: topology.jobEvents.maxAge, maxLengthBytes: topology.jobEvents.maxLengthBytes };
  // The OpenAI front door: per-key usage and cost counters from the job events every replica reads.
  const usage = createUsageLedger();
  const costs = createCostMetrics(metrics.registry);
  // The jobs dead-lettered now, by the events: the DLQ failure groups without reading the queue (docs/console.md).
  const deadLetters = createDeadLetterStore();
  const deadLetterReader = createStreamReader({ connection, maxConcurrent: 1 });
  const deadLetterCheckpoints = createDeadLetterCheckpoints({
    store: deadLetters,
    reader: deadLetterReader,
    publisher,
    keys: eventKeys,
    eventsStream: topology.jobEvents.stream,
    checkpointStream: topology.jobEvents.checkpointStream,
    ...(unsignedBefore === undefined ? {} : { unsignedBefore }),
    logger,
  });
  const history = createJobHistory({
    onTailMessage: (msg, offset) => deadLetters.commit(offset, msg.content),
    onTailStart: (tailFrom) => deadLetterCheckpoints.onTailStart(tailFrom),
    onCheckpointRecord: (msg, offset) => deadLetterCheckpoints.offer(msg, offset),
    // Usage before the tail's start point (a restart boots from a checkpoint): what the warm-up replays counts too.
    onWarmed: (e) => {
      if (e.status !== 'queued' && e.status !== 'succeeded') return;
      // Requests count, reservations don't: the tail may already have read the end of a job that straddles its start.
      usage.observe(e.status === 'queued' && e.reservedTokens !== undefined ? { ...e, reservedTokens: 0 } : e, e.owner ?? index.ownerOf(e.jobId));
    },
    onApplied: (e) => {
      deadLetters.add(e);
      if (e.status !== 'queued' && e.status !== 'succeeded' && e.status !== 'dead-lettered' && e.status !== 'failed') return;
      const owner = e.owner ?? index.ownerOf(e.jobId);
      usage.observe(e, owner);
      costs.observe(e, owner);
    },
    connection,
    publisher,
    index,
    indexCapacity: topology.jobEvents.indexSize,
    keys: eventKeys,
    exchange: topology.jobEvents.exchange,
    stream: topology.jobEvents.stream,
    checkpointStream: topology.jobEvents.checkpointStream,
    ...(unsignedBefore === undefined ? {} : { unsignedBefore }),
    onRejected: (reason) => metrics.eventRejected(reason),
    logger,
    replicaId,
    retention,
  });
  registerHistoryMetrics(metrics.registry, history);
  // Best effort: a stream declared by an older warren keeps retention arguments that cap the configured retention.
  void createManagementClient({ url: topology.connection.management })
    .get<{ arguments?: Record<string, unknown> }>(`/queues/${seg(topology.connection.vhost)}/${seg(topology.jobEvents.stream)}`)
    .then((q) => {
      const warning = legacyRetentionWarning(q.arguments ?? {}, retention);
      if (warning !== undefined) logger.warn(warning.details, warning.message);
    })
    .catch(() => undefined);
  // Live replies from the workers to the clients this replica holds (front door only).
  const replies = topology.openai === undefined ? undefined : createReplyListener({ connection, replicaId, logger });
  const probe = options.isTopologyApplied === undefined ? createTopologyProbe({ connection, ...apiTopologyNeeds(topology), logger }) : undefined;
  const isTopologyApplied = options.isTopologyApplied ?? (() => probe?.isApplied() ?? false);
  const shutdown = new AbortController();

  // Requeues go through one channel of their own so a DLQ's order is kept in the origin queue.
  const dlqPublisher = options.dlq === undefined ? undefined : createConfirmPublisher({ connection, channels: 1, logger });
  const dlq =
    options.dlq === undefined || dlqPublisher === undefined
      ? undefined
      : options.dlq({
          connection,
          publisher: dlqPublisher,
          management: createManagementClient({ url: topology.connection.management, timeoutMs: 30_000 }),
          topology,
          payloadSchemas: async () => payloadSchemas,
          events: createJobEventPublisher(publisher, topology.jobEvents, 'dlq', eventKeys),
          deadLetters,
          logger,
        });

  const app = createApp(
    {
      ...(dlq === undefined ? {} : { dlq }),
      console: createConsoleBroker({ management: createManagementClient({ url: topology.connection.management, timeoutMs: 5_000 }), topology }),
      topology,
      publisher,
      exchangePublisher,
      ...(batchPublisher === undefined ? {} : { batchPublisher }),
      ...(batchThread === undefined ? {} : { batchThread }),
      index,
      history,
      events,
      auth: createAuthenticator(auth),
      metrics,
      logger,
      isBrokerConnected: () => connection.isConnected() && bulkConnection.isConnected() && (batchThread?.isConnected() ?? true),
      isTopologyApplied,
      payloadSchemas,
      limits,
      shutdown: shutdown.signal,
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
      usage,
      ...(replies === undefined ? {} : { replies }),
    },
    { publicDocs: options.publicDocs ?? config.apiPublicDocs },
  );

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    // autoCleanupIncoming: false: a body the API refused unread is not read at full speed for half a second
    // after the answer (the adapter's default); the error handler stops reading it instead (http/unread-body.ts).
    const s = serve({ fetch: app.fetch, port, hostname: host, serverOptions: serverTimeoutOptions(timeouts), autoCleanupIncoming: false }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new WarrenError('API_PORT_IN_USE', `port ${port} on ${host} is already in use; set WARREN_API_PORT or --port`, { cause: err })
          : err,
      ),
    );
  }).catch(async (err: unknown) => {
    await deadLetterCheckpoints.close();
    await deadLetterReader.close();
    await history.close();
    await replies?.close();
    probe?.close();
    await dlqPublisher?.close();
    await exchangePublisher.close();
    await batchPublisher?.close();
    await batchThread?.close();
    await publisher.close();
    if (ownsConnection) await Promise.all([connection.close(), bulkConnection.close()]).catch(() => undefined);
    throw err;
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  logger.info({ url, routes: Object.keys(topology.routes), auth: auth.mode === 'none' ? 'none' : `${auth.keys.length} key(s)` }, 'API listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    app,
    index,
    history,
    deadLetters: deadLetterCheckpoints,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }, 5_000);
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        });
        await events.flush();
        await deadLetterCheckpoints.close();
        await deadLetterReader.close();
        await history.close();
        await replies?.close();
        probe?.close();
        await dlqPublisher?.close();
        await exchangePublisher.close();
        await batchPublisher?.close();
        await batchThread?.close();
        await publisher.close();
        if (ownsConnection) await Promise.all([connection.close(), bulkConnection.close()]);
        logger.info('API stopped');
      })();
      return closing;
    },
  };
}
