import { z } from 'zod';
import type { RouteConfig, Topology } from '../config/topology-schema.ts';
import { WarrenError } from '../errors/index.ts';
import { compileRoutingKey, type RoutingKeyTemplate } from './routing-key.ts';
import { routeOrderings, type RouteOrdering } from './ordering.ts';

/** A topology route prepared once at startup: schema looked up, routing key compiled. */
export interface CompiledRoute {
  name: string;
  exchange: string;
  routingKey: RoutingKeyTemplate;
  defaults: Readonly<Record<string, string>>;
  schemaName: string;
  schema: z.ZodType;
  /**
   * The schema runs no transform (a `.transform()`, `z.custom()` or the like), so a payload that zod returns
   * unchanged is the payload as sent and its request text may be published as is (see sameJsonValue).
   */
  keepsRequestText: boolean;
  publishTimeoutMs: number;
  description: string | undefined;
  /** JSON Schema of the payload (input side), for /v1/routes; undefined when zod can't express it. */
  jsonSchema: unknown;
  /** Set when the route feeds an ordered queue: where each job's ordering key comes from (docs/ordered-routes.md). */
  ordering?: RouteOrdering | undefined;
}

/**
 * True when the schema's output can be written as JSON Schema, which zod refuses for transforms and custom
 * types: code that could change a value in place, where comparing the input with zod's output would not see it.
 */
function transformFree(schema: z.ZodType): boolean {
  try {
    z.toJSONSchema(schema, { io: 'output', unrepresentable: 'throw' });
    return true;
  } catch {
    return false;
  }
}

/** Routes by name. */
export type RouteCatalog = ReadonlyMap<string, CompiledRoute>;

function toJsonSchema(schema: z.ZodType): unknown {
  try {
    return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  } catch {
    return undefined;
  }
}

/** Compiles every route of the topology; a route naming an unknown schema is a startup error. */
export function compileRoutes(topology: Pick<Topology, 'routes'> & Partial<Pick<Topology, 'queues' | 'bindings' | 'exchanges'>>, schemas: Readonly<Record<string, z.ZodType>>): RouteCatalog {
  const catalog = new Map<string, CompiledRoute>();
  const orderings = routeOrderings(topology);
  for (const [name, route] of Object.entries(topology.routes) as [string, RouteConfig][]) {
    const schema = schemas[route.schema];
    if (schema === undefined) {
      throw new WarrenError(
        'ROUTE_SCHEMA_UNKNOWN',
        `route '${name}' names payload schema '${route.schema}', which does not exist (known: ${Object.keys(schemas).sort().join(', ')})`,
      );
    }
    catalog.set(name, {
      name,
      exchange: route.exchange,
      routingKey: compileRoutingKey(route.routingKey),
      defaults: route.defaults,
      schemaName: route.schema,
      schema,
      keepsRequestText: transformFree(schema),
      publishTimeoutMs: route.publishTimeout,
      description: route.description,
      jsonSchema: toJsonSchema(schema),
      ordering: orderings.get(name),
    });
  }
  return catalog;
}
