import type { MessageProperties } from 'amqplib';
import { z } from 'zod';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { JobValidationError, PermanentJobError, RoutingKeyError, UnknownRouteError } from '../errors/index.ts';
import { headerString } from '../jobs/header-values.ts';
import { HEADERS } from '../jobs/headers.ts';
import { newJobId } from '../jobs/job-id.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import { eventPayload } from '../jobs/job-event-payload.ts';
import type { AmqpHeaders } from '../jobs/job-headers.ts';
import { forwardProperties } from '../jobs/message-properties.ts';
import type { CompiledRoute } from '../jobs/route-catalog.ts';
import type { Submitter } from '../submit/submitter.ts';

/** Publishes jobs to routes from inside the worker: handler follow-ups and `onError: {route}` forwards. */
export interface RoutePublisher {
  /** Submits a new job (validated, confirmed); resolves with its id. A job that can never be valid fails its parent with PermanentJobError. */
  publishJob(route: string, payload: unknown, parentHeaders?: AmqpHeaders): Promise<string>;
  /** Re-publishes a failed job, body untouched, to a fallback route as attempt 1 (same job id). PermanentJobError when the route can't take it. */
  forward(route: string, msg: { content: Buffer; properties: MessageProperties }, payload: unknown): Promise<void>;
}

/** Collaborators of {@link createRoutePublisher}. */
export interface RoutePublisherDeps {
  /** The submit use case, over the topology's compiled routes. */
  submitter: Submitter;
  /** Confirm publisher for forwards (a republish, not a new job). */
  publisher: { publish(request: PublishRequest): Promise<void> };
  /** Where a follow-up job's `queued` event goes (as the API emits one for its jobs). */
  events?: JobEventPublisher;
  /** Bytes of a follow-up job's body its `queued` event carries (topology `jobEvents.payloadBytes`). @default 0: none */
  payloadBytes?: number;
}

/**
 * The worker's reading of the submit errors: a follow-up or a forward that can
 * never be valid is a permanent failure of the job that tried it. Anything
 * else (the broker did not confirm) is left as it is, for the disposition table.
 */
function asJobFailure(route: string, what: string, err: unknown): unknown {
  if (err instanceof JobValidationError) return new PermanentJobError(`${what} for route '${route}' does not match schema '${err.schemaName}': ${z.prettifyError(err.zodError)}`, { cause: err });
  if (err instanceof RoutingKeyError) return new PermanentJobError(`${what} for route '${route}': ${err.message}`, { cause: err });
  if (err instanceof UnknownRouteError) return new PermanentJobError(`${what}: ${err.message}`, { cause: err });
  return err;
}

/** Creates the route publisher. */
export function createRoutePublisher(deps: RoutePublisherDeps): RoutePublisher {
  return {
    async publishJob(name, payload, parentHeaders) {
      const id = newJobId();
      const traceparent = headerString(parentHeaders?.[HEADERS.traceparent]);
      let content: Buffer;
      try {
        ({ content } = await deps.submitter.submit(name, payload, { id, correlationId: id, traceparent: traceparent === '' ? undefined : traceparent }));
      } catch (err) {
        throw asJobFailure(name, 'follow-up job', err);
      }
      // The job is stored; its status event is observability and must not fail the parent job.
      await deps.events?.emit({ jobId: id, status: 'queued', route: name, attempt: 1, ...eventPayload(content, deps.payloadBytes ?? 0) }).catch(() => undefined);
      return id;
    },
    async forward(name, msg, payload) {
      let route: CompiledRoute;
      let routingKey: string;
      try {
        route = deps.submitter.route(name);
        routingKey = route.routingKey.render(payload, route.defaults);
      } catch (err) {
        throw asJobFailure(name, 'forward', err);
      }
      await deps.publisher.publish({
        exchange: route.exchange,
        routingKey,
        content: msg.content,
        properties: forwardProperties(msg.properties, { route: name, origin: { exchange: route.exchange, routingKey } }),
        timeoutMs: route.publishTimeoutMs,
      });
    },
  };
}
