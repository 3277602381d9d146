import type { Logger } from '../observability/logger.ts';
import type { Delivery } from './delivery.ts';
import type { Job, JobContext, LlmContext } from './handler-contract.ts';
import type { JobControl } from './job-control.ts';
import type { AmqpHeaders } from './job-headers.ts';
import type { JobLlmContext } from './llm-context.ts';
import type { RoutePublisher } from './route-publisher.ts';

/**
 * A job's context. Logger child, abort signal and LLM context are made only
 * when the handler touches them: most of a fast job's cost would otherwise be
 * objects it never uses. A class so the lazy getters live on the prototype.
 */
class LazyJobContext implements JobContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly redelivered: boolean;
  readonly consumer: string;
  #logger: Logger | undefined;
  readonly #parentLogger: Logger;
  readonly #control: JobControl;
  readonly #llm: { get(): JobLlmContext };
  readonly #routes: RoutePublisher;
  readonly #headers: AmqpHeaders;

  constructor(jobId: string, d: Delivery, consumer: string, parentLogger: Logger, control: JobControl, llm: { get(): JobLlmContext }, routes: RoutePublisher, headers: AmqpHeaders) {
    this.jobId = jobId;
    this.attempt = d.attempt;
    this.redelivered = d.msg.fields.redelivered;
    this.consumer = consumer;
    this.#parentLogger = parentLogger;
    this.#control = control;
    this.#llm = llm;
    this.#routes = routes;
    this.#headers = headers;
  }

  get logger(): Logger {
    this.#logger ??= this.#parentLogger.child({ jobId: this.jobId, attempt: this.attempt });
    return this.#logger;
  }

  get signal(): AbortSignal {
    return this.#control.signal;
  }

  get llm(): LlmContext {
    return this.#llm.get();
  }

  publish(route: string, payload: unknown): Promise<string> {
    return this.#routes.publishJob(route, payload, this.#headers);
  }
}

/** Builds the job and its context for a handler call. */
export function createJobAndContext(args: {
  d: Delivery;
  consumerName: string;
  queue: string;
  /** The consumer's logger (already bound to consumer and queue). */
  logger: Logger;
  control: JobControl;
  /** Builds the job's LLM context on first use. */
  llm: { get(): JobLlmContext };
  routes: RoutePublisher;
}): { job: Job; ctx: JobContext } {
  const { d } = args;
  const headers = (d.msg.properties.headers ?? {}) as AmqpHeaders;
  const id = (d.msg.properties.messageId as string | undefined) ?? `tag-${d.msg.fields.deliveryTag}`;
  const job: Job = {
    id,
    payload: d.payload,
    route: d.route,
    queue: args.queue,
    attempt: d.attempt,
    redelivered: d.msg.fields.redelivered,
    headers,
  };
  return { job, ctx: new LazyJobContext(id, d, args.consumerName, args.logger, args.control, args.llm, args.routes, headers) };
}
