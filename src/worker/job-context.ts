import type { Logger } from '../observability/logger.ts';
import type { Delivery } from './delivery.ts';
import type { Job, JobContext } from './handler-contract.ts';
import type { JobControl } from './job-control.ts';
import type { AmqpHeaders } from './job-headers.ts';
import type { JobLlmContext } from './llm-context.ts';
import type { RoutePublisher } from './route-publisher.ts';

/** Builds the job and its context for a handler call. Logger child, abort signal and LLM context are made only if the handler uses them (hot path). */
export function createJobAndContext(args: {
  d: Delivery;
  consumerName: string;
  queue: string;
  logger: Logger;
  control: JobControl;
  /** Builds the job's LLM context on first use. */
  llm: () => JobLlmContext;
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
  let logger: Logger | undefined;
  const ctx: JobContext = {
    jobId: id,
    attempt: d.attempt,
    redelivered: d.msg.fields.redelivered,
    consumer: args.consumerName,
    get logger() {
      logger ??= args.logger.child({ consumer: args.consumerName, jobId: id, attempt: d.attempt });
      return logger;
    },
    get signal() {
      return args.control.signal;
    },
    publish: (route, payload) => args.routes.publishJob(route, payload, headers),
    get llm() {
      return args.llm();
    },
  };
  return { job, ctx };
}
