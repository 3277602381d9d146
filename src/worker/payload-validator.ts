import { z } from 'zod';
import type { ConsumerConfig, Topology } from '../config/topology-schema.ts';

/** Result of validating one message body. */
export type PayloadResult = { ok: true; payload: unknown; route: string | undefined } | { ok: false; message: string };

/** Validates message bodies for one consumer. */
export interface PayloadValidator {
  /** Parses JSON and checks the route's schema; `routeHeader` is the message's `x-warren-route`. */
  validate(content: Buffer, routeHeader: string | undefined): PayloadResult;
  /** The route used when the message names none. */
  defaultRoute: string | undefined;
}

/**
 * The route a consumer's jobs come from when the consumer names none: the one
 * route whose exchange is bound straight to the consumer's queue, if unique.
 */
export function inferRoute(topology: Topology, queue: string): string | undefined {
  const sources = new Set(topology.bindings.filter((b) => b.queue === queue).map((b) => b.source));
  const candidates = Object.entries(topology.routes).filter(([, r]) => sources.has(r.exchange));
  return candidates.length === 1 ? candidates[0]?.[0] : undefined;
}

/**
 * Creates the validator. The schema is the consumer's route's (it is the
 * handler's contract), else the route the message was published through, else
 * the inferred route; with no route at all, any JSON value is accepted.
 */
export function createPayloadValidator(topology: Topology, consumer: ConsumerConfig, schemas: Readonly<Record<string, z.ZodType>>): PayloadValidator {
  const defaultRoute = consumer.route ?? inferRoute(topology, consumer.queue);
  return {
    defaultRoute,
    validate(content, routeHeader) {
      let json: unknown;
      try {
        json = JSON.parse(content.toString('utf8'));
      } catch (err) {
        return { ok: false, message: `payload is not JSON: ${(err as Error).message}` };
      }
      // Own keys only: the header is the publisher's input, and `toString` or `constructor` is in every object.
      const route = consumer.route ?? (routeHeader !== undefined && Object.hasOwn(topology.routes, routeHeader) ? routeHeader : defaultRoute);
      const schemaName = route === undefined ? undefined : topology.routes[route]?.schema;
      const schema = schemaName === undefined ? undefined : schemas[schemaName];
      if (schemaName !== undefined && schema === undefined) {
        return { ok: false, message: `route '${route}' names payload schema '${schemaName}', which this worker does not know` };
      }
      if (!schema) return { ok: true, payload: json, route };
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        return { ok: false, message: `payload does not match schema '${schemaName}' of route '${route}': ${z.prettifyError(parsed.error)}` };
      }
      return { ok: true, payload: parsed.data, route };
    },
  };
}
