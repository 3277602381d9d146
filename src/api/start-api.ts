import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { z } from 'zod';
import { createBrokerConnection, type BrokerConnection } from '../broker/broker-connection.ts';
import { createConfirmPublisher } from '../broker/confirm-publisher.ts';
import { createManagementClient, seg } from '../broker/management-client.ts';
import { loadTopology, type LoadedTopology } from '../config/load-topology.ts';
import type { Topology } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { createDlqRoutes } from '../dlq/dlq-routes.ts';
import { createDlqService } from '../dlq/dlq-service.ts';
import { loadJobEventKeyring } from '../jobs/job-event-key.ts';
import { createJobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { JobEventKeyring } from '../jobs/job-event-signature.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { ensureTopology } from '../topology/ensure-topology.ts';
import { loadPayloadSchemas } from '../worker/load-handlers.ts';
import type { ApiLimits } from './app-context.ts';
import { loadAuthConfig, parseApiKeysEnv, type AuthConfig } from './auth/api-keys.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { createApp, type WarrenApp } from './create-app.ts';
import { createApiMetrics } from './metrics/api-metrics.ts';
import { createJobEventBatcher } from './status/job-event-batcher.ts';
import { registerHistoryMetrics } from './status/history-metrics.ts';
import { createJobHistory, type JobHistory } from './status/job-history.ts';
import { createJobStatusIndex, type JobStatusIndex } from './status/job-status-index.ts';
import { legacyRetentionWarning } from './status/retention-check.ts';
import { apiTopologyNeeds, createTopologyProbe } from './topology-probe.ts';

/** Options of {@link startApi}. Defaults come from the environment, then from here. */
export interface StartApiOptions {
  /** The loaded topology (or a parsed Topology object); give this or `topologyFile`. */
  topology?: LoadedTopology | Topology;
  /** Path of topology.yaml, loaded when `topology` is absent. @default $WARREN_TOPOLOGY or ./topology.yaml */
  topologyFile?: string;
  /** @default $WARREN_API_PORT or 8080 (0: any free port) */
  port?: number;
  /** @default $WARREN_API_HOST or 127.0.0.1 */
  host?: string;
  /** API keys: an AuthConfig, or the `WARREN_API_KEYS` format. @default read from the environment (see loadAuthConfig) */
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
  limits?: Partial<ApiLimits>;
  /** Serve /openapi.json and /docs without a key. @default $WARREN_API_PUBLIC_DOCS === 'true' */
  publicDocs?: boolean;
  /** Collect Node process metrics. @default true */
  processMetrics?: boolean;
  /** Signs and verifies job events. @default loaded by loadJobEventKeyring (WARREN_EVENT_KEY, else the broker) */
  eventKeys?: JobEventKeyring;
  env?: NodeJS.ProcessEnv;
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
  /** Stops accepting requests, ends SSE streams, flushes job events, closes channels (and the connection if it owns it). */
  close(): Promise<void>;
}

/** WARREN_EVENT_UNSIGNED_BEFORE: a stream offset, or undefined. */
function unsignedBeforeOf(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.WARREN_EVENT_UNSIGNED_BEFORE?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new WarrenError('EVENT_KEY_INVALID', `WARREN_EVENT_UNSIGNED_BEFORE must be a stream offset (a whole number), got '${raw}'`);
  return n;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

async function resolveTopology(options: StartApiOptions, env: NodeJS.ProcessEnv): Promise<{ topology: Topology; consumersDir: string | undefined }> {
  const given = options.topology;
  if (given !== undefined) {
    return 'topology' in given && 'file' in given ? { topology: given.topology, consumersDir: given.consumersDir } : { topology: given as Topology, consumersDir: undefined };
  }
  const loaded = loadTopology(options.topologyFile ?? env.WARREN_TOPOLOGY ?? 'topology.yaml', { env, checkHandlers: false });
  return { topology: loaded.topology, consumersDir: loaded.consumersDir };
}

/**
 * The composition root of the API: connection, confirm publisher, status index
 * fed by the job-events stream, and the HTTP server. Used by `warren start api`
 * and `warren start all`.
 */
export async function startApi(options: StartApiOptions = {}): Promise<RunningApi> {
  const env = options.env ?? process.env;
  const logger = (options.logger ?? createLogger({ name: 'warren' })).child({ component: 'api' });
  const { topology, consumersDir } = await resolveTopology(options, env);
  const auth: AuthConfig =
    typeof options.apiKeys === 'string' ? { mode: 'keys', keys: parseApiKeysEnv(options.apiKeys) } : (options.apiKeys ?? loadAuthConfig(env));
  const port = options.port ?? Number(env.WARREN_API_PORT ?? 8080);
  const host = options.host ?? env.WARREN_API_HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new WarrenError('API_PORT_INVALID', `API port must be 0-65535, got '${String(port)}'`);
  if (auth.mode === 'none' && !isLoopback(host)) {
    logger.warn({ host }, 'WARREN_AUTH=none on a non-loopback interface: anyone who can reach this port can publish jobs');
  }
  const payloadSchemas = options.payloadSchemas ?? (consumersDir !== undefined ? await loadPayloadSchemas(topology, consumersDir) : BUILTIN_PAYLOAD_SCHEMAS);
  const unsignedBefore = unsignedBeforeOf(env);

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
      (await loadJobEventKeyring({ env, vhost: topology.connection.vhost, management: createManagementClient({ url: topology.connection.management }), connection: live, logger }));
  } catch (err) {
    if (ownsConnection) await connection.close().catch(() => undefined);
    throw err;
  }

  const publisher = createConfirmPublisher({ connection, ...(options.publisherChannels === undefined ? {} : { channels: options.publisherChannels }), logger });
  const index = createJobStatusIndex({ capacity: topology.jobEvents.indexSize });
  // This process's id on its own job-event messages: it applied them to its index already, its tail skips them.
  const replicaId = randomUUID();
  const metrics = createApiMetrics(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics });
  const events = createJobEventBatcher({ publisher, exchange: topology.jobEvents.exchange, signer: eventKeys, logger, replicaId });
  const retention = { stream: topology.jobEvents.stream, maxAgeMs: topology.jobEvents.maxAge, maxLengthBytes: topology.jobEvents.maxLengthBytes };
  const history = createJobHistory({
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
  const probe = options.isTopologyApplied === undefined ? createTopologyProbe({ connection, ...apiTopologyNeeds(topology), logger }) : undefined;
  const isTopologyApplied = options.isTopologyApplied ?? (() => probe?.isApplied() ?? false);
  const shutdown = new AbortController();

  // Requeues go through one channel of their own so a DLQ's order is kept in the origin queue.
  const dlqPublisher = createConfirmPublisher({ connection, channels: 1, logger });
  const dlq = createDlqRoutes({
    service: createDlqService({
      connection,
      publisher: dlqPublisher,
      management: createManagementClient({ url: topology.connection.management, timeoutMs: 30_000 }),
      topology,
      events: createJobEventPublisher(publisher, topology.jobEvents, 'dlq', eventKeys),
      logger,
    }),
  });

  const app = createApp(
    {
      dlq,
      topology,
      publisher,
      index,
      history,
      events,
      auth: createAuthenticator(auth),
      metrics,
      logger,
      isBrokerConnected: () => connection.isConnected(),
      isTopologyApplied,
      payloadSchemas,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      shutdown: shutdown.signal,
    },
    { publicDocs: options.publicDocs ?? env.WARREN_API_PUBLIC_DOCS === 'true' },
  );

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new WarrenError('API_PORT_IN_USE', `port ${port} on ${host} is already in use; set WARREN_API_PORT or --port`, { cause: err })
          : err,
      ),
    );
  }).catch(async (err: unknown) => {
    await history.close();
    probe?.close();
    await dlqPublisher.close();
    await publisher.close();
    if (ownsConnection) await connection.close().catch(() => undefined);
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
        await history.close();
        probe?.close();
        await dlqPublisher.close();
        await publisher.close();
        if (ownsConnection) await connection.close();
        logger.info('API stopped');
      })();
      return closing;
    },
  };
}
