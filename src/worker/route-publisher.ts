import type { MessageProperties } from 'amqplib';
import type { z } from 'zod';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { RouteConfig, Topology } from '../config/topology-schema.ts';
import { PermanentJobError } from '../errors/index.ts';
import { HEADERS } from '../jobs/headers.ts';
import { newJobId } from '../jobs/job-id.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';
import { republishProperties } from './republish.ts';
import { FORWARDED_TO_HEADER, headerString, withoutDeathHeaders, type AmqpHeaders } from './job-headers.ts';

/** Fills `{field}` placeholders of a route's routing key from the payload, then the route's defaults. */
export function renderRoutingKey(routeName: string, route: RouteConfig, payload: unknown): string {
  const fields = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  return route.routingKey.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, field: string) => {
    const v = fields[field] ?? route.defaults[field];
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new PermanentJobError(`route '${routeName}' needs '${field}' for its routing key '${route.routingKey}', and the job has none`);
    }
    const s = String(v);
    if (s === '' || /[.#*\s]/.test(s)) throw new PermanentJobError(`route '${routeName}': '${field}' value '${s}' can't be part of a routing key`);
    return s;
  });
}

/** Publishes jobs to routes from inside the worker: handler follow-ups and `onError: {route}` forwards. */
export interface RoutePublisher {
  /** Validates and publishes a new job; resolves with its id once confirmed. */
  publishJob(route: string, payload: unknown, parentHeaders?: AmqpHeaders): Promise<string>;
  /** Re-publishes a failed job, body untouched, to a fallback route as attempt 1 (same job id). */
  forward(route: string, msg: { content: Buffer; properties: MessageProperties }, payload: unknown): Promise<void>;
}

/** Creates the route publisher (schemas keyed by schema name, like BUILTIN_PAYLOAD_SCHEMAS). */
export function createRoutePublisher(deps: {
  topology: Topology;
  publisher: ConfirmPublisher;
  schemas: Readonly<Record<string, z.ZodType>>;
  /** Where a follow-up job's `queued` event goes (as the API emits one for its jobs). */
  events?: JobEventPublisher;
}): RoutePublisher {
  function routeOf(name: string): RouteConfig {
    const route = deps.topology.routes[name];
    if (!route) throw new PermanentJobError(`unknown route '${name}'`);
    return route;
  }

  return {
    async publishJob(name, payload, parentHeaders) {
      const route = routeOf(name);
      const schema = deps.schemas[route.schema];
      let body = payload;
      if (schema) {
        const parsed = schema.safeParse(payload);
        if (!parsed.success) throw new PermanentJobError(`follow-up job for route '${name}' does not match schema '${route.schema}': ${parsed.error.message}`);
        body = parsed.data;
      }
      const routingKey = renderRoutingKey(name, route, body);
      const id = newJobId();
      const headers: AmqpHeaders = {
        [HEADERS.route]: name,
        [HEADERS.attempt]: 1,
        [HEADERS.originExchange]: route.exchange,
        [HEADERS.originRoutingKey]: routingKey,
      };
      const traceparent = headerString(parentHeaders, HEADERS.traceparent);
      if (traceparent !== undefined) headers[HEADERS.traceparent] = traceparent;
      await deps.publisher.publish({
        exchange: route.exchange,
        routingKey,
        content: Buffer.from(JSON.stringify(body)),
        properties: { messageId: id, contentType: 'application/json', timestamp: Math.floor(Date.now() / 1000), headers },
        timeoutMs: route.publishTimeout,
      });
      // The job is stored; its status event is observability and must not fail the parent job.
      await deps.events?.emit({ jobId: id, status: 'queued', route: name, attempt: 1 }).catch(() => undefined);
      return id;
    },
    async forward(name, msg, payload) {
      const route = routeOf(name);
      const routingKey = renderRoutingKey(name, route, payload);
      const headers = withoutDeathHeaders(msg.properties.headers as AmqpHeaders | undefined);
      const previous = headerString(headers, HEADERS.route);
      const chain = [headerString(headers, FORWARDED_TO_HEADER), name].filter((x): x is string => x !== undefined).join(',');
      Object.assign(headers, {
        [HEADERS.route]: name,
        [HEADERS.attempt]: 1,
        [HEADERS.originExchange]: route.exchange,
        [HEADERS.originRoutingKey]: routingKey,
        [FORWARDED_TO_HEADER]: chain,
        ...(previous === undefined ? {} : { 'x-warren-forwarded-from': previous }),
      });
      await deps.publisher.publish({ exchange: route.exchange, routingKey, content: msg.content, properties: republishProperties(msg.properties, headers), timeoutMs: route.publishTimeout });
    },
  };
}
