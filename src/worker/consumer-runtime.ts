import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type OpenAI from 'openai';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { ConsumerConfig } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { readAttempt, readRoute, type AmqpHeaders } from '../jobs/job-headers.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import { estimateChatTokens } from '../llm/estimate-tokens.ts';
import { budgetKeys, type RateLimiter } from '../llm/rate-limiter.ts';
import type { Logger } from '../observability/logger.ts';
import { createAckBatcher } from './ack-batcher.ts';
import { createDelivery, loseDelivery, requeueDelivery, type ChannelSession, type Delivery } from './delivery.ts';
import type { JobHandler } from './handler-contract.ts';
import { createJobAndContext, jobIdOf, type JobScope } from './job-context.ts';
import type { JobSettler } from './job-settler.ts';
import { createJobControl } from './job-control.ts';
import type { BudgetGrant } from './llm-context.ts';
import type { PayloadValidator } from './payload-validator.ts';
import type { RoutePublisher } from './route-publisher.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

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
  stats(): { running: number; buffered: number; unsettled: number; consuming: boolean };
}

/** Creates a consumer; nothing happens until `start()`. */
export function createConsumerRuntime(deps: ConsumerRuntimeDeps): ConsumerRuntime {
  const { consumer, metrics, limiter, settler } = deps;
  const name = deps.name;
  const queue = consumer.queue;
  const concurrency = Math.min(consumer.concurrency ?? consumer.prefetch, consumer.prefetch);
  const reopenDelay = deps.reopenDelayMs ?? 2_000;
  const runningEvents = deps.runningEvents ?? true;
  const runningEventAfterMs = deps.runningEventAfterMs ?? 250;
  // Often enough for a timeout to fire within 5% of its length, and a `running` event within half its delay.
  const sweepPeriodMs = Math.max(10, Math.min(250, Math.floor(consumer.timeout / 20), runningEvents && runningEventAfterMs > 0 ? Math.floor(runningEventAfterMs / 2) : 250));
  let sweepTimer: NodeJS.Timeout | undefined;
  const logger = deps.logger.child({ consumer: name, queue });
  const scope: JobScope = { consumer: name, queue, logger, routes: deps.routes, provider: consumer.provider, llmClient: deps.llmClient, model: consumer.model, limiter, metrics };

  let session: ChannelSession | undefined;
  let opening = false;
  let stopping = false;
  let unsubscribe: (() => void) | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  /** Deliveries waiting for a slot (FIFO; `head` is the next one). */
  let buffer: (Delivery | undefined)[] = [];
  let head = 0;
  let running = 0;
  /** Every delivery not yet finished with, whatever its state. */
  const live = new Set<Delivery>();
  let idleWaiter: (() => void) | undefined;
  let drained = 0;
  // Rate-limit pause state.
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAt = 0;
  let pausedSince: number | undefined;
  let pausedKey = '';
  let first: { resolve: () => void; reject: (err: Error) => void } | undefined;

  function finish(d: Delivery): void {
    live.delete(d);
    if (stopping && d.settled && d.lost === undefined) drained++;
    if (idleWaiter && live.size === 0) idleWaiter();
  }

  async function open(conn: ChannelModel): Promise<void> {
    if (stopping || opening) return;
    if (session?.open) {
      // A setup hook after a reconnect while the old channel has not reported its close yet.
      const sameConnection = (session.channel as unknown as { connection?: unknown }).connection === conn.connection;
      if (sameConnection) return;
      onClosed(session);
    }
    opening = true;
    try {
      const channel = await conn.createChannel();
      const s: ChannelSession = {
        channel,
        open: true,
        consumerTag: undefined,
        acks: createAckBatcher(channel, { isOpen: () => s.open, onError: (err) => logger.warn({ err: err.message }, 'ack not written: channel closed') }),
      };
      channel.on('error', (err: Error) => logger.warn({ err: err.message }, 'consumer channel error'));
      channel.on('close', () => onClosed(s));
      await channel.prefetch(consumer.prefetch);
      session = s;
      const ok = await channel.consume(queue, (msg) => (msg === null ? onCancelled(s) : onDelivery(s, msg)), { noAck: false });
      s.consumerTag = ok.consumerTag;
      logger.info({ prefetch: consumer.prefetch, concurrency }, 'consuming');
      first?.resolve();
      first = undefined;
    } catch (err) {
      const message = `can't consume queue '${queue}' for consumer '${name}': ${(err as Error).message} (does the queue exist? run warren topology apply)`;
      if (first) {
        first.reject(new WarrenError('CONSUME_FAILED', message, { cause: err }));
        first = undefined;
      } else {
        logger.error({ retryInMs: reopenDelay }, `${message}; trying again`);
        scheduleReopen();
      }
    } finally {
      opening = false;
    }
  }

  function scheduleReopen(): void {
    if (stopping || reopenTimer) return;
    reopenTimer = setTimeout(() => {
      reopenTimer = undefined;
      const conn = deps.connection.current();
      // Without a connection the onConnect hook re-subscribes after the reconnect.
      if (conn) void open(conn);
    }, reopenDelay);
    reopenTimer.unref();
  }

  function onClosed(s: ChannelSession): void {
    if (!s.open) return;
    s.open = false;
    if (session === s) session = undefined;
    let lost = 0;
    for (const d of live) {
      if (d.session !== s || d.settled) continue;
      // Its delivery tag means nothing on any other channel: the broker redelivers it.
      d.settled = true;
      loseDelivery(d, 'channel-closed');
      metrics.jobs.inc({ consumer: name, route: d.route ?? '', outcome: 'dropped' });
      lost++;
      if (d.state === 'buffered') finish(d);
    }
    if (lost > 0) logger.warn({ deliveries: lost }, 'consumer channel closed; its unacked deliveries return to the queue and will be redelivered');
    if (!stopping) scheduleReopen();
  }

  function onCancelled(s: ChannelSession): void {
    logger.warn(`the broker cancelled the consumer (queue '${queue}' deleted?); re-subscribing`);
    s.channel.close().catch(() => undefined);
  }

  function onDelivery(s: ChannelSession, msg: ConsumeMessage): void {
    if (stopping || !s.open) {
      if (s.open) {
        try {
          s.channel.nack(msg, false, true);
          s.acks.settled(msg.fields.deliveryTag);
        } catch {
          // channel closing: the broker requeues it anyway
        }
      }
      return;
    }
    const headers = msg.properties.headers as AmqpHeaders | undefined;
    const d = createDelivery(s, msg, readAttempt(headers));
    live.add(d);
    if (msg.fields.redelivered) metrics.redeliveries.inc({ consumer: name });
    const routeHeader = readRoute(headers);
    const v = deps.validator.validate(msg.content, routeHeader);
    if (!v.ok) {
      d.state = 'settling';
      d.route = routeHeader ?? deps.validator.defaultRoute;
      settler
        .invalid(d, v.message)
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'settling an invalid payload failed'))
        .finally(() => finish(d));
      return;
    }
    d.payload = v.payload;
    d.route = v.route;
    if (consumer.provider !== undefined) {
      const model = consumer.model ?? (v.payload as { model?: unknown } | null)?.model;
      d.budgetKeys = budgetKeys(consumer.provider, typeof model === 'string' ? model : undefined);
      d.tokens = limiter.governs(d.budgetKeys) ? estimateChatTokens(v.payload) : 0;
    }
    if (d.budgetKeys === undefined && running < concurrency && head === buffer.length) {
      // Nothing waiting and no budget to take: start it now (what pump would do, without the queue).
      void runJob(d, undefined);
      return;
    }
    buffer.push(d);
    pump();
  }

  function pauseFor(waitMs: number, keys: readonly string[]): void {
    const now = Date.now();
    if (pausedSince === undefined) {
      pausedSince = now;
      pausedKey = keys[keys.length - 1] ?? '';
      metrics.rateLimitWaits.inc({ consumer: name, key: pausedKey });
    }
    const at = now + waitMs;
    if (wakeTimer && wakeAt <= at) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeAt = at;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      pump();
    }, waitMs);
  }

  function resumed(): void {
    if (pausedSince === undefined) return;
    metrics.rateLimitWaitSeconds.inc({ consumer: name, key: pausedKey }, (Date.now() - pausedSince) / 1000);
    pausedSince = undefined;
  }

  /** Starts handlers while there are free slots and budget; holds the rest (they stay unacked: the broker's prefetch caps them). */
  function pump(): void {
    while (running < concurrency && head < buffer.length && !stopping) {
      const d = buffer[head] as Delivery;
      if (d.settled || d.lost) {
        buffer[head++] = undefined;
        continue;
      }
      let grant: BudgetGrant | undefined;
      if (d.budgetKeys && limiter.governs(d.budgetKeys)) {
        const wait = limiter.tryAcquire(d.budgetKeys, d.tokens);
        if (wait > 0) {
          pauseFor(wait, d.budgetKeys);
          break;
        }
        resumed();
        grant = { keys: d.budgetKeys, tokens: d.tokens, used: false };
      }
      buffer[head++] = undefined;
      void runJob(d, grant);
    }
    if (head === buffer.length) {
      // Drained (the usual case: each delivery starts at once): reuse the array.
      buffer.length = 0;
      head = 0;
    } else if (head > 4096) {
      buffer = buffer.slice(head);
      head = 0;
    }
  }

  async function runJob(d: Delivery, grant: BudgetGrant | undefined): Promise<void> {
    running++;
    d.state = 'running';
    const control = createJobControl();
    d.abort = control;
    // One clock for the deadline, the `running` delay and the duration. The timeout is enforced by the
    // consumer's sweep (no timer per job; precise to a sweep period).
    const started = performance.now();
    d.deadline = started + consumer.timeout;
    const { job, ctx } = createJobAndContext(scope, d, control, grant);
    if (runningEvents) {
      if (runningEventAfterMs === 0) announce(d);
      else d.startedAt = started;
    }
    let failed = false;
    let result: unknown;
    let error: unknown;
    try {
      result = await control.run(deps.handler, job, ctx);
    } catch (err) {
      failed = true;
      error = err;
    }
    const timedOut = d.timedOut;
    d.deadline = 0;
    d.startedAt = 0;
    running--;
    const llm = ctx.llmIfUsed;
    if (llm) llm.releaseUnusedGrant();
    else if (grant) limiter.release(grant.keys, grant.tokens);
    d.state = 'settling';
    pump();
    const seconds = (performance.now() - started) / 1000;
    try {
      if (d.settled || d.lost) return;
      if (failed) await settler.fail(d, error, seconds, timedOut ? consumer.timeout : undefined);
      else await settler.succeed(d, result, llm?.usage(), seconds);
    } catch (err) {
      // A bug in settling must not leave the job hanging unacked forever: hand it back.
      logger.error({ jobId: job.id, err: (err as Error).message }, 'settling a job failed; requeueing it');
      requeueDelivery(d);
    } finally {
      finish(d);
    }
  }

  function announce(d: Delivery): void {
    d.startedAt = 0;
    deps.events.emit({ jobId: jobIdOf(d), status: 'running', route: d.route, queue, attempt: d.attempt }).catch(() => metrics.publishFailures.inc({ kind: 'event' }));
  }

  /**
   * One pass over the running jobs: abort those past their deadline (the
   * job timeout), and emit `running` for those that have run for
   * `runningEventAfterMs` (quicker jobs go straight to their outcome).
   */
  function sweep(): void {
    if (running === 0) return;
    const now = performance.now();
    const due = now - runningEventAfterMs;
    for (const d of live) {
      if (d.state !== 'running' || d.settled || d.lost) continue;
      if (d.deadline > 0 && now >= d.deadline) {
        d.timedOut = true;
        d.deadline = 0;
        d.abort?.abort(new Error(`job timed out after ${consumer.timeout}ms`));
        continue;
      }
      if (d.startedAt > 0 && d.startedAt <= due) announce(d);
    }
  }

  metrics.observeConsumer(name, () => ({ running, buffered: buffer.length - head }));

  return {
    name,
    start() {
      if (unsubscribe) return Promise.resolve();
      const started = new Promise<void>((resolve, reject) => {
        first = { resolve, reject };
      });
      unsubscribe = deps.connection.onConnect((conn) => open(conn));
      sweepTimer = setInterval(sweep, sweepPeriodMs);
      sweepTimer.unref();
      return started;
    },
    stats: () => ({ running, buffered: buffer.length - head, unsettled: live.size, consuming: session?.open === true && session.consumerTag !== undefined }),
    async stop(deadline) {
      stopping = true;
      unsubscribe?.();
      if (reopenTimer) clearTimeout(reopenTimer);
      if (wakeTimer) clearTimeout(wakeTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      const s = session;
      if (s?.open && s.consumerTag !== undefined) {
        await s.channel.cancel(s.consumerTag).catch(() => undefined);
      }
      let requeued = 0;
      // Not started yet: straight back to the queue, in order.
      for (let i = head; i < buffer.length; i++) {
        const d = buffer[i];
        if (!d || d.settled) continue;
        if (requeueDelivery(d)) requeued++;
        loseDelivery(d, 'shutdown');
        metrics.jobs.inc({ consumer: name, route: d.route ?? '', outcome: 'requeued' });
        finish(d);
      }
      buffer = [];
      head = 0;
      if (live.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
          function done(): void {
            clearTimeout(timer);
            idleWaiter = undefined;
            resolve();
          }
          idleWaiter = done;
        });
      }
      // Past the deadline: hand the rest back (a redelivery, not a failure) and abort their handlers.
      for (const d of [...live]) {
        if (!d.settled) {
          if (requeueDelivery(d)) requeued++;
          metrics.jobs.inc({ consumer: name, route: d.route ?? '', outcome: 'requeued' });
        }
        loseDelivery(d, 'shutdown');
        live.delete(d);
      }
      if (s?.open) {
        s.acks.flush();
        await s.channel.close().catch(() => undefined);
      }
      logger.info({ drained, requeued }, 'consumer stopped');
      return { drained, requeued };
    },
  };
}
