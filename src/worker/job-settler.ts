import type { ConfirmPublisher, PublishRequest } from '../broker/confirm-publisher.ts';
import type { ConsumerConfig, RetryPolicyConfig, Topology } from '../config/topology-schema.ts';
import { PermanentJobError } from '../errors/index.ts';
import { ERROR_MESSAGE_MAX, HEADERS } from '../jobs/headers.ts';
import { readDeadLetter, readForwardedTo, type AmqpHeaders } from '../jobs/job-headers.ts';
import { REASON_BLOCKED } from '../jobs/ordering.ts';
import { resultProperties, retryProperties } from '../jobs/message-properties.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import type { Logger } from '../observability/logger.ts';
import type { RetryTier } from '../jobs/retry-tiers.ts';
import { classifyJobError, type JobFailure } from './classify-job-error.ts';
import { deadLetterRequest, originOf } from './dead-letter.ts';
import { ackDelivery, type Delivery } from './delivery.ts';
import { decideDisposition, type Decision } from './dispositions.ts';
import type { BatchedJobEventPublisher } from './event-batcher.ts';
import type { LlmUsage } from './handler-contract.ts';
import { planRetry } from './retry-plan.ts';
import type { RoutePublisher } from './route-publisher.ts';
import { safeErrorMessage } from './scrub-secrets.ts';
import type { JobOutcome, WorkerMetrics } from './worker-metrics.ts';

/** A handler's run time in whole milliseconds, as job events carry it. */
function durationMsOf(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** What the settler needs to know about one consumer. */
export interface JobSettlerDeps {
  consumerName: string;
  consumer: ConsumerConfig;
  topology: Topology;
  publisher: ConfirmPublisher;
  /** Job events (the worker's batching publisher: successes go in as ready-made JSON). */
  events: BatchedJobEventPublisher;
  routes: RoutePublisher;
  metrics: WorkerMetrics;
  logger: Logger;
  /** The queue's retry tiers (sorted) and policy; empty / undefined without a retry policy. */
  tiers: readonly RetryTier[];
  policy: RetryPolicyConfig | undefined;
  /** Exact secrets scrubbed from error messages (provider API keys). */
  secrets: readonly string[];
  random?: () => number;
  /** First wait before re-trying a publish the broker did not confirm. @default 500 */
  holdInitialMs?: number;
  /** Longest wait between such tries. @default 30000 */
  holdMaxMs?: number;
  /** Ordered queues only (docs/ordered-routes.md): run before the ack of a dead-lettered job (block its key) and of a succeeded one (release it). */
  ordering?: OrderingHooks;
}

/** What an ordered consumer does around the ack of a job that ends (see ordered-hooks.ts). */
export interface OrderingHooks {
  /** The job was dead-lettered: its key becomes blocked (durably) before the ack. */
  deadLettered(d: Delivery): Promise<void>;
  /** The job succeeded: if it was the job blocking its key, the key is released before the ack. */
  succeeded(d: Delivery): Promise<void>;
  /** Headers that name the key and the blocking job on a job moved aside. */
  blockedHeaders(d: Delivery, blockedBy: string): Record<string, string>;
}

/** Turns a finished job into its publishes and, only after they are confirmed, its ack. */
export interface JobSettler {
  succeed(d: Delivery, result: unknown, usage: LlmUsage | undefined, seconds: number): Promise<void>;
  fail(d: Delivery, err: unknown, seconds: number, timedOutAfterMs?: number): Promise<void>;
  /** Dead-letters a body that is not JSON or fails its schema, without running the handler. */
  invalid(d: Delivery, message: string): Promise<void>;
  /** Ordered queues: moves a job of a blocked key aside, unrun, with reason blocked-by-previous-failure. */
  divert(d: Delivery, blockedBy: string): Promise<void>;
}

/** Creates the settler of one consumer. */
export function createJobSettler(deps: JobSettlerDeps): JobSettler {
  const { consumer, consumerName, metrics } = deps;
  const queueName = consumer.queue;
  const queueConfig = deps.topology.queues[queueName];
  const maxAttempts = deps.policy && deps.tiers.length > 0 ? deps.policy.attempts : 1;
  const holdInitial = deps.holdInitialMs ?? 500;
  const holdMax = deps.holdMaxMs ?? 30_000;

  function jobId(d: Delivery): string {
    return (d.msg.properties.messageId as string | undefined) ?? `tag-${d.msg.fields.deliveryTag}`;
  }

  // The few (route, outcome) metric children, kept per outcome then route (no key string per job).
  const children = new Map<JobOutcome, Map<string, { jobs: { inc(): void }; duration: { observe(v: number): void } }>>();
  function count(d: Delivery, outcome: JobOutcome, seconds: number | undefined): void {
    const route = d.route ?? '';
    let byRoute = children.get(outcome);
    if (!byRoute) children.set(outcome, (byRoute = new Map()));
    let c = byRoute.get(route);
    if (!c) {
      const labels = { consumer: consumerName, route, outcome };
      c = { jobs: metrics.jobs.labels(labels), duration: metrics.handlerDuration.labels(labels) };
      byRoute.set(route, c);
    }
    c.jobs.inc();
    if (seconds !== undefined) c.duration.observe(seconds);
  }

  // Shared, so an event costs no closure of its own.
  function onEventFailure(err: unknown): void {
    metrics.publishFailures.inc({ kind: 'event' });
    deps.logger.warn({ consumer: consumerName, err: (err as Error).message }, 'job event not confirmed by the broker');
  }

  /**
   * Job events are awaited, so a job is acked after its `succeeded` (which may
   * carry the only copy of the result) is stored; a refused event is logged
   * and counted but never blocks the ack: observability must not hold jobs.
   * The event ends the attempt; `seconds` is how long its handler ran
   * (undefined when none ran).
   */
  function emit(d: Delivery, event: Omit<JobEvent, 'jobId' | 'at' | 'queue'>, seconds: number | undefined): Promise<void> {
    const full = event as JobEvent;
    full.jobId = jobId(d);
    full.queue = queueName;
    if (seconds !== undefined) full.durationMs = durationMsOf(seconds);
    return deps.events.emit(full).catch(onEventFailure);
  }

  /**
   * Publishes until the broker confirms, as long as the delivery is ours.
   * A failed publish is never answered with an ack (loss) or a nack without
   * requeue (loss on classic queues) or an immediate requeue (a hot loop that
   * re-runs the LLM call): the job stays unacked, holding its prefetch slot,
   * and the publish is tried again with backoff. When the delivery's channel
   * closes or the worker shuts down, the broker gets the job back instead.
   */
  async function publishHeld(d: Delivery, kind: string, send: () => Promise<void>): Promise<boolean> {
    let delay = holdInitial;
    for (;;) {
      if (d.settled || d.lost) return false;
      try {
        await send();
        return !d.settled && d.lost === undefined;
      } catch (err) {
        metrics.publishFailures.inc({ kind });
        if (d.settled || d.lost) return false;
        deps.logger.error(
          { consumer: consumerName, jobId: jobId(d), kind, err: (err as Error).message, retryInMs: delay },
          `${kind} publish not confirmed; the job stays unacked and the publish is retried`,
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delay);
          function done(): void {
            clearTimeout(timer);
            d.wake = undefined;
            resolve();
          }
          d.wake = done;
        });
        delay = Math.min(delay * 2, holdMax);
      }
    }
  }

  function errorOf(f: JobFailure): { class: string; message: string } {
    return { class: f.errorClass, message: safeErrorMessage(f.message, ERROR_MESSAGE_MAX, deps.secrets) };
  }

  async function retry(d: Delivery, f: JobFailure, decision: Extract<Decision, { kind: 'retry' }>, seconds: number | undefined): Promise<void> {
    const plan = planRetry({
      tiers: deps.tiers,
      backoff: deps.policy?.backoff ?? [],
      jitter: deps.policy?.jitter ?? 0,
      attempt: d.attempt,
      retryAfterMs: f.retryAfterMs,
      ...(deps.random ? { random: deps.random } : {}),
    });
    if (!plan) return deadLetter(d, f, 'attempts-exhausted', seconds);
    const properties = retryProperties(d.msg.properties, { attempt: decision.nextAttempt, origin: originOf(d.msg), delayMs: plan.delayMs, expiration: plan.expiration });
    const request: PublishRequest = { exchange: '', routingKey: plan.queue, content: d.msg.content, properties };
    if (!(await publishHeld(d, 'retry', () => deps.publisher.publish(request)))) return;
    await emit(d, { status: 'retrying', route: d.route, attempt: d.attempt, error: errorOf(f), retryInMs: plan.delayMs }, seconds);
    if (!ackDelivery(d)) return;
    metrics.retries.inc({ consumer: consumerName, reason: f.errorClass });
    count(d, 'retried', seconds);
    deps.logger.info({ consumer: consumerName, jobId: jobId(d), attempt: d.attempt, errorClass: f.errorClass, retryInMs: plan.delayMs, waitQueue: plan.queue }, 'job failed; retry scheduled');
  }

  async function deadLetter(d: Delivery, f: JobFailure, reason: string, seconds: number | undefined): Promise<void> {
    const request = deadLetterRequest(d.msg, queueConfig, {
      errorClass: f.errorClass,
      errorMessage: f.message,
      reason,
      attempts: d.attempt,
      queue: queueName,
      secrets: deps.secrets,
    });
    if (!request) {
      // No dead-letter target: the broker would drop it too. Say so loudly, once per job.
      await emit(d, { status: 'failed', route: d.route, attempt: d.attempt, error: errorOf(f) }, seconds);
      if (!ackDelivery(d)) return;
      count(d, 'failed', seconds);
      deps.logger.error({ consumer: consumerName, jobId: jobId(d), reason, errorClass: f.errorClass }, `job failed and queue '${queueName}' has no deadLetter target: it is dropped (add deadLetter to the queue in topology.yaml)`);
      return;
    }
    const ordering = deps.ordering;
    // Ordered retries run in place: the attempt reached is only in memory, so the dead letter records it (for --keep-attempts).
    if (ordering && request.properties?.headers) (request.properties.headers as Record<string, unknown>)[HEADERS.attempt] = d.attempt;
    if (!(await publishHeld(d, 'dead-letter', () => deps.publisher.publish(request)))) return;
    if (ordering && !(await publishHeld(d, 'block', () => ordering.deadLettered(d)))) return;
    await emit(d, { status: 'dead-lettered', route: d.route, attempt: d.attempt, error: errorOf(f), deadLetter: readDeadLetter(request.properties?.headers as AmqpHeaders | undefined) }, seconds);
    if (!ackDelivery(d)) return;
    metrics.deadLetters.inc({ consumer: consumerName, reason });
    count(d, 'dead-lettered', seconds);
    deps.logger.warn({ consumer: consumerName, jobId: jobId(d), attempt: d.attempt, reason, errorClass: f.errorClass, exchange: request.exchange, routingKey: request.routingKey }, 'job dead-lettered');
  }

  async function forward(d: Delivery, f: JobFailure, route: string, seconds: number | undefined): Promise<void> {
    let unforwardable: Error | undefined;
    const ok = await publishHeld(d, 'forward', async () => {
      try {
        await deps.routes.forward(route, d.msg, d.payload);
      } catch (err) {
        // A payload that can't fill the fallback route's routing key never will: dead-letter instead.
        if (err instanceof PermanentJobError) unforwardable = err;
        else throw err;
      }
    });
    if (unforwardable) return deadLetter(d, { ...f, message: `${f.message}; forwarding to route '${route}' failed: ${unforwardable.message}` }, f.errorClass, seconds);
    if (!ok) return;
    await emit(d, { status: 'retrying', route, attempt: d.attempt, error: errorOf(f), retryInMs: 0 }, seconds);
    if (!ackDelivery(d)) return;
    count(d, 'forwarded', seconds);
    deps.logger.info({ consumer: consumerName, jobId: jobId(d), errorClass: f.errorClass, route }, 'job forwarded to its fallback route');
  }

  async function settleFailure(d: Delivery, f: JobFailure, seconds: number | undefined): Promise<void> {
    const decision = decideDisposition({
      errorClass: f.errorClass,
      attempt: d.attempt,
      maxAttempts,
      override: consumer.onError[f.errorClass],
      forwardedTo: readForwardedTo(d.msg.properties.headers as AmqpHeaders | undefined),
    });
    if (decision.kind === 'retry') return retry(d, f, decision, seconds);
    if (decision.kind === 'forward') return forward(d, f, decision.route, seconds);
    return deadLetter(d, f, decision.reason, seconds);
  }

  return {
    async succeed(d, result, usage, seconds) {
      // `?? null`: a handler that returned nothing still gets `"result":null` in its event and result message.
      const value = result ?? null;
      const event = emit(d, { status: 'succeeded', route: d.route, attempt: d.attempt, result: value, usage }, seconds);
      const results = consumer.results;
      if (!results) {
        await event;
      } else {
        const id = jobId(d);
        const body = JSON.stringify({ jobId: id, route: d.route, consumer: consumerName, attempt: d.attempt, result: value, usage, completedAt: new Date().toISOString() });
        const request: PublishRequest = {
          exchange: results.exchange,
          routingKey: results.routingKey,
          content: Buffer.from(body),
          properties: resultProperties(id, d.route),
        };
        await Promise.all([publishHeld(d, 'result', () => deps.publisher.publish(request)), event]);
      }
      const ordering = deps.ordering;
      if (ordering && !(await publishHeld(d, 'release', () => ordering.succeeded(d)))) return;
      if (!ackDelivery(d)) return;
      count(d, 'succeeded', seconds);
    },
    async fail(d, err, seconds, timedOutAfterMs) {
      const f = classifyJobError(err, { timedOutAfterMs });
      await settleFailure(d, f, seconds);
    },
    async invalid(d, message) {
      await settleFailure(d, { errorClass: 'invalid-payload', message }, undefined);
    },
    async divert(d, blockedBy) {
      const message = `not run: job ${blockedBy} of the same ordering key was dead-lettered; requeue it (warren dlq requeue) to release the key`;
      const request = deadLetterRequest(d.msg, queueConfig, { errorClass: 'blocked', errorMessage: message, reason: REASON_BLOCKED, attempts: 0, queue: queueName, secrets: deps.secrets });
      if (!request) throw new Error(`ordered queue '${queueName}' has no deadLetter target`);
      Object.assign(request.properties?.headers as Record<string, unknown>, deps.ordering?.blockedHeaders(d, blockedBy));
      if (!(await publishHeld(d, 'dead-letter', () => deps.publisher.publish(request)))) return;
      await emit(d, { status: 'blocked', route: d.route, attempt: 0, blockedBy, error: { class: 'blocked', message }, deadLetter: readDeadLetter(request.properties?.headers as AmqpHeaders | undefined) }, undefined);
      if (!ackDelivery(d)) return;
      metrics.deadLetters.inc({ consumer: consumerName, reason: REASON_BLOCKED });
      count(d, 'blocked', undefined);
      deps.logger.info({ consumer: consumerName, jobId: jobId(d), blockedBy }, 'job of a blocked key moved aside');
    },
  };
}
