import { z } from 'zod';
import type { RouteConfig, Topology } from '../../config/topology-schema.ts';
import { WarrenError } from '../../errors/index.ts';
import { compileFastAccept, type FastAccept } from '../../jobs/fast-accept.ts';
import { compileRoutingKey, type RoutingKeyTemplate } from './routing-key-template.ts';

/** A topology route prepared once at startup: schema looked up, routing key compiled. */
export interface CompiledRoute {
  name: string;
  exchange: string;
  routingKey: RoutingKeyTemplate;
  defaults: Readonly<Record<string, string>>;
  schemaName: string;
  schema: z.ZodType;
  /** Skips zod for payloads it certainly accepts unchanged; undefined when the schema is outside its subset. */
  fastAccept: FastAccept | undefined;
  publishTimeoutMs: number;
  description: string | undefined;
  /** JSON Schema of the payload (input side), for /v1/routes; undefined when zod can't express it. */
  jsonSchema: unknown;
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
export function compileRoutes(topology: Pick<Topology, 'routes'>, schemas: Readonly<Record<string, z.ZodType>>): RouteCatalog {
  const catalog = new Map<string, CompiledRoute>();
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
      fastAccept: compileFastAccept(schema),
      publishTimeoutMs: route.publishTimeout,
      description: route.description,
      jsonSchema: toJsonSchema(schema),
    });
  }
  return catalog;
}
