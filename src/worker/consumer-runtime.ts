import type { Tracer } from '@opentelemetry/api';
import type OpenAI from 'openai';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { ConsumerConfig } from '../config/topology-schema.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { RateLimiter } from '../llm/rate-limiter.ts';
import type { Logger } from '../observability/logger.ts';
import { createConsumerChannelSession } from './consumer-channel-session.ts';
import { createFlowControl } from './consumer-flow-control.ts';
import { createInFlight } from './consumer-in-flight.ts';
import { createConsumerIntake } from './consumer-intake.ts';
import { createJobRun } from './consumer-job-run.ts';
import { createConsumerSettle } from './consumer-settle.ts';
import { ackDelivery, loseDelivery, requeueDelivery } from './delivery.ts';
import type { JobHandler } from './handler-contract.ts';
import type { JobScope } from './job-context.ts';
import type { ReplySender } from './reply-sender.ts';
import type { PriceLookup } from '../llm/model-cost.ts';
import type { JobSettler } from './job-settler.ts';
import type { PayloadValidator } from './payload-validator.ts';
import type { RoutePublisher } from './route-publisher.ts';
import type { WorkerMetrics } from './worker-metrics.ts';
import type { BlockBook } from './block-book.ts';
import type { InPlaceRetry } from './ordered-hooks.ts';
import { createOrderedLanes } from './ordered-lanes.ts';

/** Collaborators of one consumer. */
export interface ConsumerRuntimeDeps {
  name: string;
  consumer: ConsumerConfig;
  connection: BrokerConnection;
  handler: JobHandler;
  validator: PayloadValidator;
  settler: JobSettler;
  events: JobEventPublisher;
  routes: RoutePublisher;
  limiter: RateLimiter;
  /** openai client of the consumer's provider, when it has one. */
  llmClient: OpenAI | undefined;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Live replies to front-door clients (see JobContext.relay). @default none */
  replies?: ReplySender;
  /** Prices per provider and model: each job's cost. @default none */
  price?: PriceLookup;
  /** Wait before re-opening a channel the broker closed while the connection stayed up. @default 2000 */
  reopenDelayMs?: number;
  /** Emit `running` job events at all. @default true */
  runningEvents?: boolean;
  /**
   * Emit `running` only for jobs still running after this long (0: as each
   * handler starts). Quick jobs then go from `queued` straight to their
   * outcome, which saves a stream write per job. @default 250
   */
  runningEventAfterMs?: number;
  /** Records consume, LLM call and settle spans when given (tracing on). */
  tracer?: Tracer;
  /**
   * Ordered partition consumers (docs/ordered-routes.md): per-key lanes over the
   * blocked-key book, and the in-place retry that replaces wait queues.
   */
  ordering?: { book: BlockBook; retryInPlace: InPlaceRetry };
}

/** What {@link ConsumerRuntime.stop} did. */
export interface StopResult {
  /** Jobs that finished (acked after their publishes) during the drain. */
  drained: number;
  /** Deliveries handed back to the broker with requeue (not started, or past the deadline). */
  requeued: number;
}

/** One consumer: a channel of its own, a bounded set of running handlers, and the way out for each delivery. */
export interface ConsumerRuntime {
  readonly name: string;
  /**
   * Subscribes now (if connected) and after every reconnect. Resolves once
   * the first subscription works; rejects if the first attempt fails (a
   * missing queue, no permission), so a worker fails fast at start.
   */
  start(): Promise<void>;
  /** Stops taking deliveries, lets in-flight jobs finish until `deadline` (epoch ms), then requeues the rest. */
  stop(deadline: number): Promise<StopResult>;
  /** Handlers running, deliveries held, deliveries not yet finished with, and whether the channel is consuming. */
  stats(): { running: number; buffered: number; unsettled: number; consuming: boolean };
}

/**
 * Creates a consumer; nothing happens until `start()`. The parts, one file each:
 * channel session (consumer-channel-session.ts) -> intake (consumer-intake.ts)
 * -> flow control (consumer-flow-control.ts) -> job run (consumer-job-run.ts)
 * -> settle (consumer-settle.ts, over the job settler), with the in-flight set
 * (consumer-in-flight.ts) shared by all of them. This file wires them and
 * orders the shutdown.
 */
export function createConsumerRuntime(deps: ConsumerRuntimeDeps): ConsumerRuntime {
  const { consumer, metrics, limiter } = deps;
  const name = deps.name;
  const queue = consumer.queue;
  const concurrency = Math.min(consumer.concurrency ?? consumer.prefetch, consumer.prefetch);
  const logger = deps.logger.child({ consumer: name, queue });
  const scope: JobScope = { consumer: name, queue, logger, routes: deps.routes, provider: consumer.provider, llmClient: deps.llmClient, model: consumer.model, limiter, metrics, tracer: deps.tracer, replies: deps.replies, price: deps.price };
  let stopping = false;

  const inFlight = createInFlight({ consumer: name, metrics });
  const ordering = deps.ordering;
  const lanes = ordering
    ? createOrderedLanes({
        book: ordering.book,
        divert: (d, by) => settle.diverted(d, by),
        settleMarker(d) {
          d.state = 'settling';
          ackDelivery(d);
          inFlight.finish(d);
        },
      })
    : undefined;
  if (lanes) {
    // A delivery finished with (settled or lost) lets the next one of its key go.
    const finish = inFlight.finish.bind(inFlight);
    inFlight.finish = (d) => {
      finish(d);
      lanes.done(d);
    };
  }
  const settle = createConsumerSettle({ settler: deps.settler, inFlight, logger, timeoutMs: consumer.timeout });
  const flow = createFlowControl({ consumer: name, concurrency, limiter, metrics, start: (d, grant) => void jobs.run(d, grant) });
  const jobs = createJobRun({
    handler: deps.handler,
    scope,
    timeoutMs: consumer.timeout,
    events: deps.events,
    limiter,
    metrics,
    runningEvents: deps.runningEvents ?? true,
    runningEventAfterMs: deps.runningEventAfterMs ?? 250,
    running: () => flow.running(),
    inFlight,
    handlerDone: () => flow.release(),
    settle,
    retryInPlace: ordering?.retryInPlace,
  });
  const intake = createConsumerIntake({ consumer: name, config: consumer, validator: deps.validator, limiter, metrics, inFlight, flow, settle, stopping: () => stopping, lanes });
  const channel = createConsumerChannelSession({
    consumer: name,
    queue,
    prefetch: consumer.prefetch,
    concurrency,
    connection: deps.connection,
    logger,
    reopenDelayMs: deps.reopenDelayMs ?? 2_000,
    onDelivery: intake,
    onClosed(s) {
      const lost = inFlight.dropSession(s);
      lanes?.dropSession(s);
      if (lost > 0) logger.warn({ deliveries: lost }, 'consumer channel closed; its unacked deliveries return to the queue and will be redelivered');
    },
  });

  // Ordered: deliveries waiting behind their key count as buffered too.
  metrics.observeConsumer(name, () => ({ running: flow.running(), buffered: flow.held() + (lanes?.held() ?? 0) }));

  return {
    name,
    start() {
      const started = channel.start();
      jobs.startSweep();
      return started;
    },
    stats: () => ({ running: flow.running(), buffered: flow.held() + (lanes?.held() ?? 0), unsettled: inFlight.size, consuming: channel.consuming() }),
    async stop(deadline) {
      stopping = true;
      inFlight.beginDrain();
      flow.stop();
      jobs.stopSweep();
      await channel.stop();
      let requeued = 0;
      // Not started yet: straight back to the queue, in order.
      // Ordered: deliveries waiting behind their key go back with the channel (the broker returns them in delivery order).
      for (const d of lanes?.takeHeld() ?? []) {
        loseDelivery(d, 'shutdown');
        d.settled = true;
        inFlight.finish(d);
      }
      for (const d of flow.takeHeld()) {
        if (d.settled) continue;
        if (requeueDelivery(d)) requeued++;
        loseDelivery(d, 'shutdown');
        metrics.jobs.inc({ consumer: name, route: d.route ?? '', outcome: 'requeued' });
        inFlight.finish(d);
      }
      await inFlight.waitIdle(deadline);
      // Past the deadline: hand the rest back (a redelivery, not a failure) and abort their handlers.
      requeued += inFlight.requeueAll();
      await channel.close();
      const drained = inFlight.drained();
      logger.info({ drained, requeued }, 'consumer stopped');
      return { drained, requeued };
    },
  };
}
