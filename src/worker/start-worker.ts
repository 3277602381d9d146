import type { Tracer } from '@opentelemetry/api';
import { createBrokerConnection, type BrokerConnection } from '../broker/broker-connection.ts';
import { createConfirmPublisher } from '../broker/confirm-publisher.ts';
import { createManagementClient } from '../broker/management-client.ts';
import type { WarrenConfig } from '../config/env-settings.ts';
import { defaultConfig } from '../config/load-config.ts';
import type { LoadedTopology } from '../config/load-topology.ts';
import type { ConsumerConfig } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { loadJobEventKeyring } from '../jobs/job-event-key.ts';
import type { JobEventKeyring } from '../jobs/job-event-signature.ts';
import { createOpenAiClients } from '../llm/openai-clients.ts';
import { configureProviderBudgets, createRateLimiter } from '../llm/rate-limiter.ts';
import type { Logger } from '../observability/logger.ts';
import { loadPayloadSchemas } from '../consumer-modules/load-payload-schemas.ts';
import { ensureTopology } from '../topology/ensure-topology.ts';
import { retryTiers } from '../jobs/retry-tiers.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from '../submit/submitter.ts';
import { createBatchedJobEventPublisher } from './event-batcher.ts';
import { createConsumerRuntime, type ConsumerRuntime, type ConsumerRuntimeDeps } from './consumer-runtime.ts';
import { createReplySender } from './reply-sender.ts';
import { priceLookup } from '../llm/model-cost.ts';
import type { JobHandler } from './handler-contract.ts';
import { createJobSettler } from './job-settler.ts';
import { loadHandler } from './load-handlers.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { createPayloadValidator } from './payload-validator.ts';
import { createRoutePublisher } from './route-publisher.ts';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.ts';
import { orderedNames } from '../jobs/ordering.ts';
import { createBlockBook, type BlockBook } from './block-book.ts';
import { createInPlaceRetry, createOrderingHooks } from './ordered-hooks.ts';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** The loaded topology (its `consumersDir` is where handlers are imported from). */
  topology: LoadedTopology;
  /** Consumer names to run in this process. @default every consumer in the topology */
  consumers?: readonly string[];
  logger: Logger;
  /** OpenTelemetry tracer (OTEL_EXPORTER_OTLP_ENDPOINT): consume, LLM call and settle spans per job. Off when absent. */
  tracer?: Tracer;
  /** Serve Prometheus metrics on this port (0: any free port). @default no metrics server */
  metricsPort?: number;
  /** Interface of the metrics server. @default 0.0.0.0 */
  metricsHost?: string;
  /** Apply the topology (create what is missing, never delete) before consuming. @default false */
  applyTopology?: boolean;
  /** How long to wait for the broker at start. @default 15000 */
  connectTimeoutMs?: number;
  /** Handlers by handler name, used instead of importing `consumers/<name>.ts` (tests, benchmarks). */
  handlers?: Readonly<Record<string, JobHandler>>;
  /** Rate-limit window; topology budgets are per minute. Tests and benchmarks shrink it. @default 60000 */
  rateLimitWindowMs?: number;
  /** Emit `running` job events. @default true */
  runningEvents?: boolean;
  /** Emit `running` only for jobs still running after this long; 0: as each handler starts. @default 250 */
  runningEventAfterMs?: number;
  /** How long a job event may wait to share a stream message with others; 0: the same event-loop turn. @default 0 */
  eventBatchDelayMs?: number;
  /** Connection name shown in the management UI. @default warren-worker-<pid> */
  connectionName?: string;
  /** Signs job events. @default loaded by loadJobEventKeyring (WARREN_EVENT_KEY, else the broker) */
  eventKeys?: JobEventKeyring;
  /** Settings loaded once at start (WARREN_EVENT_KEY ...). @default the declared defaults (defaultConfig()) */
  config?: WarrenConfig;
}

/** A running worker process part. */
export interface Worker {
  /** Consumer names running here. */
  readonly consumers: readonly string[];
  readonly connection: BrokerConnection;
  readonly metrics: WorkerMetrics;
  /** URL of `/metrics`, when a metrics server runs. */
  readonly metricsUrl: string | undefined;
  stats(): Record<string, ReturnType<ConsumerRuntime['stats']>>;
  /**
   * Graceful stop: cancel consumers, let in-flight jobs finish for up to
   * `deadlineMs`, requeue the rest, close channels and the connection.
   */
  close(deadlineMs?: number): Promise<{ drained: number; requeued: number }>;
}

/** Default time in-flight jobs get to finish on shutdown. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;

function passwordsOf(urls: readonly string[]): string[] {
  const out: string[] = [];
  for (const url of urls) {
    try {
      const p = decodeURIComponent(new URL(url).password);
      if (p !== '') out.push(p);
    } catch {
      // not a URL: nothing to scrub
    }
  }
  return out;
}

/**
 * Starts the consumers of a topology in this process: imports the handlers,
 * connects (waiting for the broker up to `connectTimeoutMs`) and subscribes
 * each consumer on a channel of its own, re-subscribing after reconnects.
 * Resolves once every consumer is consuming; rejects (having cleaned up) when
 * one can't, e.g. its queue does not exist.
 */
export async function startWorker(options: StartWorkerOptions): Promise<Worker> {
  const { topology, consumersDir } = options.topology;
  const config = options.config ?? defaultConfig();
  const logger = options.logger.child({ component: 'worker' });
  const names = options.consumers ?? Object.keys(topology.consumers);
  const unknown = names.filter((n) => !(n in topology.consumers));
  if (unknown.length > 0) {
    throw new WarrenError('UNKNOWN_CONSUMER', `unknown consumer${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; topology.yaml has: ${Object.keys(topology.consumers).join(', ') || '(none)'}`);
  }
  if (names.length === 0) throw new WarrenError('NO_CONSUMERS', 'no consumers to run: add one under consumers: in topology.yaml');

  const schemas = await loadPayloadSchemas(topology, consumersDir);
  const handlers = new Map<string, JobHandler>();
  for (const n of names) {
    const h = (topology.consumers[n] as { handler: string }).handler;
    if (!handlers.has(h)) handlers.set(h, options.handlers?.[h] ?? (await loadHandler(consumersDir, h)));
  }

  if (options.applyTopology) {
    await ensureTopology(topology, createManagementClient({ url: topology.connection.management }), logger);
  }

  const connection = createBrokerConnection({
    urls: topology.connection.urls,
    vhost: topology.connection.vhost,
    heartbeat: topology.connection.heartbeat,
    name: options.connectionName ?? `warren-worker-${process.pid}`,
    logger,
  });
  try {
    await connection.waitForConnection(options.connectTimeoutMs ?? 15_000);
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }

  let eventKeys: JobEventKeyring;
  try {
    eventKeys =
      options.eventKeys ??
      (await loadJobEventKeyring({
        key: config.eventKey,
        previousKey: config.eventKeyPrevious,
        vhost: topology.connection.vhost,
        management: createManagementClient({ url: topology.connection.management }),
        connection: connection.current(),
        logger,
      }));
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }

  const metrics = createWorkerMetrics();
  const publisher = createConfirmPublisher({ connection, channels: 4, logger });
  // Job events get one channel of their own: AMQP keeps a channel's messages in order, so a
  // job's `running` never lands after its `succeeded`, without waiting for one confirm before the next.
  const eventPublisher = createConfirmPublisher({ connection, channels: 1, logger });
  const events = createBatchedJobEventPublisher(eventPublisher, topology.jobEvents, 'worker', eventKeys, options.eventBatchDelayMs === undefined ? {} : { maxDelayMs: options.eventBatchDelayMs });
  const limiter = createRateLimiter(options.rateLimitWindowMs === undefined ? {} : { windowMs: options.rateLimitWindowMs });
  configureProviderBudgets(limiter, topology.providers);
  const clients = createOpenAiClients(topology.providers);
  const submitter = createSubmitter({ routes: compileRoutes(topology, schemas), publisher, appId: 'warren-worker' });
  const routes = createRoutePublisher({ submitter, publisher, events, payloadBytes: topology.jobEvents.payloadBytes });
  const secrets = [...Object.values(topology.providers).map((p) => p.apiKey).filter((k) => k !== ''), ...passwordsOf([...topology.connection.urls, topology.connection.management])];

  // Live replies to front-door clients: one unconfirmed channel for the whole worker.
  const replies = createReplySender({ connection, logger });
  metrics.observeReplies(() => replies.counts());
  const price = priceLookup(topology.providers);
  const runtimes: ConsumerRuntime[] = [];
  const books = new Map<string, BlockBook>();
  /** What every runtime of `consumer` gets, plain or ordered (each adds its name, queue and settler). */
  const runtimeDeps = (consumer: ConsumerConfig): Omit<ConsumerRuntimeDeps, 'name' | 'consumer' | 'settler'> => ({
    connection,
    handler: handlers.get(consumer.handler) as JobHandler,
    validator: createPayloadValidator(topology, consumer, schemas),
    events,
    routes,
    limiter,
    llmClient: consumer.provider === undefined ? undefined : clients.get(consumer.provider),
    metrics,
    logger,
    replies,
    price,
    ...(options.runningEvents === undefined ? {} : { runningEvents: options.runningEvents }),
    ...(options.runningEventAfterMs === undefined ? {} : { runningEventAfterMs: options.runningEventAfterMs }),
    ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
  });
  for (const n of names) {
    const consumer = topology.consumers[n];
    if (!consumer) continue;
    const queue = topology.queues[consumer.queue];
    if (!queue?.deadLetter) {
      logger.warn({ consumer: n, queue: consumer.queue }, `queue '${consumer.queue}' has no deadLetter target: jobs that fail for good are dropped with a 'failed' event`);
    }
    const policy = queue?.retry === undefined ? undefined : topology.retryPolicies[queue.retry];
    if (queue?.ordering !== undefined) {
      // Ordered (docs/ordered-routes.md): one runtime per partition queue, sharing the queue's blocked-key book.
      let book = books.get(consumer.queue);
      if (!book) {
        book = createBlockBook({ stream: orderedNames.blocks(consumer.queue), connection, publisher, logger });
        books.set(consumer.queue, book);
      }
      const settler = createJobSettler({ consumerName: n, consumer, topology, publisher, events, routes, metrics, logger, tiers: [], policy: undefined, secrets, ordering: createOrderingHooks(book) });
      const retryInPlace = createInPlaceRetry({ consumer, policy, secrets });
      for (const partition of orderedNames.partitions(consumer.queue, queue.ordering.partitions)) {
        runtimes.push(
          createConsumerRuntime({
            ...runtimeDeps(consumer),
            name: `${n}.${partition.slice(consumer.queue.length + 1)}`,
            consumer: { ...consumer, queue: partition },
            settler,
            ordering: { book, retryInPlace },
          }),
        );
      }
      continue;
    }
    const settler = createJobSettler({ consumerName: n, consumer, topology, publisher, events, routes, metrics, logger, tiers: retryTiers(topology, consumer.queue), policy, secrets });
    const runtime = createConsumerRuntime({ ...runtimeDeps(consumer), name: n, consumer, settler });
    runtimes.push(runtime);
  }

  let server: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    server = await startMetricsServer(metrics.registry, { port: options.metricsPort, ...(options.metricsHost === undefined ? {} : { host: options.metricsHost }), healthy: () => connection.isConnected() });
    logger.info({ url: server.url }, 'worker metrics served');
  }
  try {
    // Blocked keys are known before the first ordered delivery is taken.
    await Promise.all([...books.values()].map((b) => b.start()));
    await Promise.all(runtimes.map((r) => r.start()));
  } catch (err) {
    await Promise.all([...books.values()].map((b) => b.stop()));
    await Promise.all(runtimes.map((r) => r.stop(Date.now())));
    await replies.close();
    await eventPublisher.close();
    await publisher.close();
    await connection.close();
    await server?.close();
    throw err;
  }
  logger.info({ consumers: names }, 'worker started');

  let closing: Promise<{ drained: number; requeued: number }> | undefined;
  return {
    consumers: names,
    connection,
    metrics,
    metricsUrl: server?.url,
    stats: () => Object.fromEntries(runtimes.map((r) => [r.name, r.stats()])),
    close(deadlineMs = DEFAULT_SHUTDOWN_DEADLINE_MS) {
      closing ??= (async () => {
        const deadline = Date.now() + deadlineMs;
        logger.info({ deadlineMs }, 'worker stopping: no new jobs, waiting for in-flight ones');
        const results = await Promise.all(runtimes.map((r) => r.stop(deadline)));
        await Promise.all([...books.values()].map((b) => b.stop()));
        await replies.close();
        await eventPublisher.close();
        await publisher.close();
        await connection.close();
        await server?.close();
        const total = results.reduce((a, r) => ({ drained: a.drained + r.drained, requeued: a.requeued + r.requeued }), { drained: 0, requeued: 0 });
        logger.info(total, 'worker stopped');
        return total;
      })();
      return closing;
    },
  };
}
