import type { Span, Tracer } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import type { PriceLookup } from '../llm/model-cost.ts';
import { isReplyQueue } from '../jobs/reply-messages.ts';
import type { ReplySender } from './reply-sender.ts';
import type { RateLimiter } from '../llm/rate-limiter.ts';
import type { Logger } from '../observability/logger.ts';
import type { Delivery } from './delivery.ts';
import type { Job, JobContext, LlmContext } from './handler-contract.ts';
import type { JobControl } from './job-control.ts';
import type { AmqpHeaders } from '../jobs/job-headers.ts';
import { createLlmContext, type BudgetGrant, type JobLlmContext } from './llm-context.ts';
import type { RoutePublisher } from './route-publisher.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

/** What every job context of one consumer shares (made once per consumer, not per job). */
export interface JobScope {
  consumer: string;
  queue: string;
  /** The consumer's logger (already bound to consumer and queue). */
  logger: Logger;
  routes: RoutePublisher;
  provider: string | undefined;
  /** openai client of the consumer's provider, when it has one. */
  llmClient: OpenAI | undefined;
  /** The consumer's forced model. */
  model: string | undefined;
  limiter: RateLimiter;
  metrics: WorkerMetrics;
  /** Tracing on: each job records spans (consumer-job-run.ts, llm-context.ts). */
  tracer: Tracer | undefined;
  /** Live replies to the API replica waiting for a job (front-door jobs carry `replyTo`). @default none: relay is a no-op */
  replies?: ReplySender | undefined;
  /** Prices of the provider's models (cost in each job's usage). @default none */
  price?: PriceLookup | undefined;
}

/**
 * A job's context. Logger child, abort signal and LLM context are made only
 * when the handler touches them: most of a fast job's cost would otherwise be
 * objects it never uses. A class so the lazy getters live on the prototype,
 * and the consumer's shared parts sit in one scope object instead of a
 * closure per job.
 */
export class LazyJobContext implements JobContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly redelivered: boolean;
  readonly consumer: string;
  #logger: Logger | undefined;
  #llm: JobLlmContext | undefined;
  readonly #scope: JobScope;
  readonly #control: JobControl;
  readonly #grant: BudgetGrant | undefined;
  readonly #headers: AmqpHeaders;
  readonly #trace: Span | undefined;
  readonly #replyTo: string | undefined;
  #run: string | undefined;
  #seq = 0;

  constructor(scope: JobScope, jobId: string, d: Delivery, headers: AmqpHeaders, control: JobControl, grant: BudgetGrant | undefined, trace: Span | undefined) {
    this.jobId = jobId;
    this.attempt = d.attempt;
    this.redelivered = d.msg.fields.redelivered;
    this.consumer = scope.consumer;
    this.#logger = undefined;
    this.#llm = undefined;
    this.#scope = scope;
    this.#control = control;
    this.#grant = grant;
    this.#headers = headers;
    this.#trace = trace;
    const replyTo = d.msg.properties.replyTo as unknown;
    this.#replyTo = scope.replies !== undefined && isReplyQueue(replyTo) ? replyTo : undefined;
    this.#run = undefined;
  }

  get hasReplyTarget(): boolean {
    return this.#replyTo !== undefined;
  }

  relay(chunk: unknown): void {
    const to = this.#replyTo;
    if (to === undefined) return;
    this.#run ??= randomBytes(6).toString('hex');
    this.#scope.replies?.send(to, { kind: 'chunk', jobId: this.jobId, run: this.#run, attempt: this.attempt, seq: this.#seq++, chunk });
  }

  /** Sends the handler's result to the waiting client ahead of the job events (a no-op without one). */
  relayDone(result: unknown): void {
    const to = this.#replyTo;
    if (to === undefined) return;
    this.#run ??= randomBytes(6).toString('hex');
    this.#scope.replies?.send(to, { kind: 'done', jobId: this.jobId, run: this.#run, attempt: this.attempt, seq: this.#seq++, result });
  }

  get logger(): Logger {
    this.#logger ??= this.#scope.logger.child({ jobId: this.jobId, attempt: this.attempt });
    return this.#logger;
  }

  get signal(): AbortSignal {
    return this.#control.signal;
  }

  get llm(): LlmContext {
    const s = this.#scope;
    this.#llm ??= createLlmContext({
      provider: s.provider,
      client: s.llmClient,
      model: s.model,
      limiter: s.limiter,
      metrics: s.metrics,
      signal: this.#control.signal,
      grant: this.#grant,
      tracer: s.tracer,
      traceParent: this.#trace,
      ...(s.price === undefined ? {} : { price: s.price }),
    });
    return this.#llm;
  }

  /** The LLM context if the handler asked for one (the runtime reads its usage and returns an unused grant). */
  get llmIfUsed(): JobLlmContext | undefined {
    return this.#llm;
  }

  publish(route: string, payload: unknown): Promise<string> {
    return this.#scope.routes.publishJob(route, payload, this.#headers);
  }
}

/** The id a job goes by: its AMQP messageId (the API sets it), else one made from the delivery tag. */
export function jobIdOf(d: Delivery): string {
  return (d.msg.properties.messageId as string | undefined) ?? `tag-${d.msg.fields.deliveryTag}`;
}

/** Builds the job and its context for a handler call. */
export function createJobAndContext(scope: JobScope, d: Delivery, control: JobControl, grant: BudgetGrant | undefined, trace?: Span): { job: Job; ctx: LazyJobContext } {
  const headers = (d.msg.properties.headers ?? {}) as AmqpHeaders;
  const id = jobIdOf(d);
  const job: Job = {
    id,
    payload: d.payload,
    route: d.route,
    queue: scope.queue,
    attempt: d.attempt,
    redelivered: d.msg.fields.redelivered,
    headers,
  };
  return { job, ctx: new LazyJobContext(scope, id, d, headers, control, grant, trace) };
}
