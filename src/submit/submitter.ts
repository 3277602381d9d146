import type { Options } from 'amqplib';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { JobPublishError, JobValidationError, UnknownRouteError } from '../errors/index.ts';
import { HEADERS, ORDER_HEADERS } from '../jobs/headers.ts';
import { renderOrderKey } from '../jobs/ordering.ts';
import type { AmqpHeaders } from '../jobs/job-headers.ts';
import { firstPublishProperties } from '../jobs/message-properties.ts';
import type { CompiledRoute, RouteCatalog } from '../jobs/route-catalog.ts';
import { sameJsonValue } from './same-json-value.ts';

/**
 * Submitting a job, the one way: validate the payload against its route's
 * schema, render the routing key, build the first-publish message, publish
 * with confirm. Every failure is a typed error (UnknownRouteError,
 * JobValidationError, RoutingKeyError, JobPublishError); nothing here knows
 * of HTTP. The API (single jobs, batches, plain exchange messages), a
 * handler's `ctx.publish` and the DLQ's `--to-route` call it; each maps the
 * errors its own way (an HTTP status, a permanent job failure, a report line).
 */

/** Who submits a job, and under which id. Callers may carry more (the API's key name): it rides along on the prepared job. */
export interface JobMeta {
  /** The job id: the message's messageId. */
  id: string;
  correlationId: string;
  /** W3C trace context to carry, if any. */
  traceparent: string | undefined;
  /** Who submits (an API key's name): an ordered route's keys are scoped by it, so tenants never block each other. */
  owner?: string;
  /** The request header an ordered route's `ordering.key` names, when it names one. */
  orderHeader?: string | undefined;
}

/** A validated job with its message, ready to publish; it is itself the confirm publisher's request. */
export interface PreparedJob<M extends JobMeta = JobMeta> extends PublishRequest {
  id: string;
  /** Route name; undefined for a plain message to an exchange. */
  route: string | undefined;
  exchange: string;
  routingKey: string;
  content: Buffer;
  properties: Options.Publish;
  timeoutMs: number;
  /** What the caller passed in, untouched. */
  meta: M;
}

/** A plain message to an exchange (POST /v1/publish/{exchange}), already validated by the caller. */
export interface PlainMessage {
  exchange: string;
  routingKey: string;
  /** The caller's own headers (warren's are added here). */
  headers: Readonly<Record<string, string | number | boolean>>;
  payload: unknown;
  priority: number | undefined;
  timeoutMs: number;
}

/** The submit use case (see the top of this file). */
export interface Submitter {
  /** The compiled route named `name`; UnknownRouteError when the topology has none. */
  route(name: string): CompiledRoute;
  /**
   * Validates and builds a job for `route`. `text` is the JSON text `payload`
   * was parsed from, when the caller has it: a payload validation leaves
   * unchanged is then published as that text instead of being serialised again.
   */
  prepare<M extends JobMeta>(route: CompiledRoute, payload: unknown, meta: M, text?: string): PreparedJob<M>;
  /** Builds a plain message to an exchange, with warren's first-publish properties. */
  prepareMessage<M extends JobMeta>(input: PlainMessage, meta: M): PreparedJob<M>;
  /** Publishes and resolves after the broker's confirm; rejects with JobPublishError. */
  publish(job: PreparedJob): Promise<void>;
  /** `route` + `prepare` + `publish`; resolves with the job once confirmed. */
  submit<M extends JobMeta>(routeName: string, payload: unknown, meta: M): Promise<PreparedJob<M>>;
  /**
   * Where a body already written (a dead letter sent to another route) goes on
   * `route`: checked like a new job (schema, routing key) and the routing key
   * returned. The body itself is not changed.
   */
  target(route: CompiledRoute, payload: unknown): string;
}

/** Collaborators of {@link createSubmitter}. */
export interface SubmitterDeps {
  routes: RouteCatalog;
  publisher: { publish(request: PublishRequest): Promise<void> };
  /** AMQP appId of the jobs this process writes (`warren-api`, `warren-worker`). */
  appId: string;
}

/** Creates the submitter. Everything per job is plain object building: schemas and templates were compiled at startup. */
export function createSubmitter(deps: SubmitterDeps): Submitter {
  const { routes, publisher, appId } = deps;

  function validate(route: CompiledRoute, payload: unknown): unknown {
    const parsed = route.schema.safeParse(payload);
    if (!parsed.success) throw new JobValidationError(route.name, route.schemaName, parsed.error);
    return parsed.data;
  }

  const submitter: Submitter = {
    route(name) {
      const route = routes.get(name);
      if (route === undefined) throw new UnknownRouteError(name);
      return route;
    },

    prepare(route, payload, meta, text) {
      const data = validate(route, payload);
      const routingKey = route.routingKey.render(data, route.defaults);
      // Most jobs are unchanged by parsing: their request text is the message body, not serialised again.
      const body = text !== undefined && route.keepsRequestText && sameJsonValue(payload, data) ? text : JSON.stringify(data);
      const headers: AmqpHeaders = meta.traceparent === undefined ? { [HEADERS.route]: route.name } : { [HEADERS.route]: route.name, [HEADERS.traceparent]: meta.traceparent };
      if (route.ordering !== undefined) headers[ORDER_HEADERS.key] = renderOrderKey(route.name, route.ordering.source, data, meta.orderHeader, meta.owner);
      return {
        id: meta.id,
        route: route.name,
        exchange: route.exchange,
        routingKey,
        content: Buffer.from(body),
        properties: firstPublishProperties(meta.id, meta.correlationId, appId, headers),
        timeoutMs: route.publishTimeoutMs,
        meta,
      };
    },

    prepareMessage(input, meta) {
      const headers: AmqpHeaders = { ...input.headers };
      if (meta.traceparent !== undefined) headers[HEADERS.traceparent] = meta.traceparent;
      return {
        id: meta.id,
        route: undefined,
        exchange: input.exchange,
        routingKey: input.routingKey,
        content: Buffer.from(JSON.stringify(input.payload)),
        properties: firstPublishProperties(meta.id, meta.correlationId, appId, headers, input.priority),
        timeoutMs: input.timeoutMs,
        meta,
      };
    },

    async publish(job) {
      try {
        // The prepared job carries exactly the request's fields: it is published as it is.
        await publisher.publish(job);
      } catch (err) {
        const target = job.route === undefined ? { exchange: job.exchange, routingKey: job.routingKey } : { route: job.route, exchange: job.exchange, routingKey: job.routingKey };
        throw new JobPublishError(target, err);
      }
    },

    async submit(routeName, payload, meta) {
      const job = submitter.prepare(submitter.route(routeName), payload, meta);
      await submitter.publish(job);
      return job;
    },

    target(route, payload) {
      return route.routingKey.render(validate(route, payload), route.defaults);
    },
  };
  return submitter;
}
