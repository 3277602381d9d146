import type { Span, Tracer } from '@opentelemetry/api';
import { HEADERS } from '../jobs/headers.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import { contextFromTraceparent, endSpan, SpanKind, startChildSpan } from '../observability/tracing.ts';
import type { RateLimiter } from '../llm/rate-limiter.ts';
import type { ConsumerSettle } from './consumer-settle.ts';
import type { Delivery } from './delivery.ts';
import type { JobHandler, LlmUsage } from './handler-contract.ts';
import { createJobAndContext, jobIdOf, type JobScope } from './job-context.ts';
import { createJobControl } from './job-control.ts';
import type { BudgetGrant } from './llm-context.ts';
import type { WorkerMetrics } from './worker-metrics.ts';
import type { InPlaceRetry } from './ordered-hooks.ts';

/** Collaborators of {@link createJobRun}. */
export interface JobRunDeps {
  /** The consumer's handler. */
  handler: JobHandler;
  /** What every job's context of this consumer shares. */
  scope: JobScope;
  /** The consumer's job timeout (ms). */
  timeoutMs: number;
  /** Where `running` events go. */
  events: JobEventPublisher;
  /** Takes back a budget grant the handler did not use. */
  limiter: RateLimiter;
  metrics: WorkerMetrics;
  /** Emit `running` job events at all. */
  runningEvents: boolean;
  /** Emit `running` only for jobs still running after this long (0: as each handler starts). */
  runningEventAfterMs: number;
  /** Handlers running now (the sweep does nothing when none is). */
  running(): number;
  /** The consumer's deliveries in flight; the sweep looks at those running. */
  inFlight: { values(): IterableIterator<Delivery> };
  /** Called as soon as a handler returns, before its job is settled: its slot is free. */
  handlerDone(): void;
  /** Where each outcome goes. */
  settle: ConsumerSettle;
  /** Ordered consumers: retries run here, holding the delivery, instead of through a wait queue (ordered-hooks.ts). */
  retryInPlace?: InPlaceRetry | undefined;
}

/**
 * Running one job: the handler with its context, a deadline enforced by a
 * periodic sweep (no timer per job), a `running` event for jobs that run
 * long enough to deserve one, then the outcome handed to the settle step.
 */
export interface JobRun {
  /** Runs the handler of `d` (its slot is taken) and settles the outcome. */
  run(d: Delivery, grant: BudgetGrant | undefined): Promise<void>;
  /** Starts the timeout / `running`-event sweep (once). */
  startSweep(): void;
  /** Stops the sweep for good. */
  stopSweep(): void;
}

/** The consume span of one attempt: a child of the publish span the message's `traceparent` names. */
function startConsumeSpan(tracer: Tracer, d: Delivery, queue: string): Span {
  const tp = d.msg.properties.headers?.[HEADERS.traceparent];
  return startChildSpan(tracer, `consume ${d.route ?? queue}`, SpanKind.CONSUMER, contextFromTraceparent(typeof tp === 'string' ? tp : undefined), {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'process',
    'messaging.destination.name': queue,
    'messaging.message.id': jobIdOf(d),
    'warren.route': d.route ?? '',
    'warren.attempt': d.attempt,
  });
}

/** Creates the job run of one consumer. */
export function createJobRun(deps: JobRunDeps): JobRun {
  const { scope, timeoutMs, limiter, metrics, runningEvents, runningEventAfterMs, settle } = deps;
  // Often enough for a timeout to fire within 5% of its length, and a `running` event within half its delay.
  const sweepPeriodMs = Math.max(10, Math.min(250, Math.floor(timeoutMs / 20), runningEvents && runningEventAfterMs > 0 ? Math.floor(runningEventAfterMs / 2) : 250));
  let sweepTimer: NodeJS.Timeout | undefined;

  async function run(d: Delivery, grant: BudgetGrant | undefined): Promise<void> {
    for (;;) {
      d.state = 'running';
      d.timedOut = false;
      const control = createJobControl();
      d.abort = control;
      // One clock for the deadline, the `running` delay and the duration. The timeout is enforced by the
      // consumer's sweep (no timer per job; precise to a sweep period).
      const started = performance.now();
      d.deadline = started + timeoutMs;
      const span = scope.tracer === undefined ? undefined : startConsumeSpan(scope.tracer, d, scope.queue);
      const { job, ctx } = createJobAndContext(scope, d, control, grant, span);
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
      const llm = ctx.llmIfUsed;
      if (llm) llm.releaseUnusedGrant();
      else if (grant) limiter.release(grant.keys, grant.tokens);
      grant = undefined;
      const seconds = (performance.now() - started) / 1000;
      const again = failed && deps.retryInPlace !== undefined && !d.lost && !d.settled ? deps.retryInPlace(d, error, timedOut ? timeoutMs : undefined) : undefined;
      if (again !== undefined) {
        // An ordered retry: same delivery, next attempt after the backoff; the key's later jobs wait behind it.
        if (span !== undefined) endSpan(span, error);
        deps.events
          .emit({ jobId: jobIdOf(d), status: 'retrying', route: d.route, queue: scope.queue, attempt: d.attempt, error: again.error, retryInMs: again.delayMs, durationMs: Math.round(seconds * 1000) })
          .catch(() => metrics.publishFailures.inc({ kind: 'event' }));
        metrics.retries.inc({ consumer: scope.consumer, reason: again.error.class });
        await holdFor(d, again.delayMs);
        if (!d.lost && !d.settled) {
          d.attempt++;
          continue;
        }
      }
      // A client waiting through the front door gets the result now; the job events still carry it for good.
      if (!failed) ctx.relayDone(result ?? null);
      await finish(d, failed, result, error, seconds, timedOut, llm?.usage(), span);
      return;
    }
  }

  async function holdFor(d: Delivery, ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        d.wake = undefined;
        resolve();
      }
      d.wake = done;
    });
  }

  async function finish(
    d: Delivery,
    failed: boolean,
    result: unknown,
    error: unknown,
    seconds: number,
    timedOut: boolean,
    usage: LlmUsage | undefined,
    span: Span | undefined,
  ): Promise<void> {
    d.state = 'settling';
    deps.handlerDone();
    if (span !== undefined) return settleTraced(span, d, failed, result, error, seconds, timedOut, usage);
    if (failed) await settle.failed(d, error, seconds, timedOut);
    else await settle.succeeded(d, result, usage, seconds);
  }

  /** Tracing on: the settle step in a span of its own, then the consume span ends with the job's outcome. */
  async function settleTraced(span: Span, d: Delivery, failed: boolean, result: unknown, error: unknown, seconds: number, timedOut: boolean, usage: LlmUsage | undefined): Promise<void> {
    const settleSpan = startChildSpan(scope.tracer as Tracer, 'settle', SpanKind.INTERNAL, span, { 'warren.outcome': failed ? 'failed' : 'succeeded' });
    try {
      if (failed) await settle.failed(d, error, seconds, timedOut);
      else await settle.succeeded(d, result, usage, seconds);
    } finally {
      endSpan(settleSpan);
      endSpan(span, failed ? error : undefined);
    }
  }

  function announce(d: Delivery): void {
    d.startedAt = 0;
    deps.events.emit({ jobId: jobIdOf(d), status: 'running', route: d.route, queue: scope.queue, attempt: d.attempt }).catch(() => metrics.publishFailures.inc({ kind: 'event' }));
  }

  /**
   * One pass over the running jobs: abort those past their deadline (the
   * job timeout), and emit `running` for those that have run for
   * `runningEventAfterMs` (quicker jobs go straight to their outcome).
   */
  function sweep(): void {
    if (deps.running() === 0) return;
    const now = performance.now();
    const due = now - runningEventAfterMs;
    for (const d of deps.inFlight.values()) {
      if (d.state !== 'running' || d.settled || d.lost) continue;
      if (d.deadline > 0 && now >= d.deadline) {
        d.timedOut = true;
        d.deadline = 0;
        d.abort?.abort(new Error(`job timed out after ${timeoutMs}ms`));
        continue;
      }
      if (d.startedAt > 0 && d.startedAt <= due) announce(d);
    }
  }

  return {
    run,
    startSweep() {
      if (sweepTimer) return;
      sweepTimer = setInterval(sweep, sweepPeriodMs);
      sweepTimer.unref();
    },
    stopSweep() {
      if (sweepTimer) clearInterval(sweepTimer);
    },
  };
}
