import { z } from 'zod';
import { JobValidationError, RoutingKeyError } from '../errors/index.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { compileRoutes, type CompiledRoute } from '../jobs/route-catalog.ts';
import { createSubmitter, type Submitter } from '../submit/submitter.ts';
import type { DlqDeps } from './dlq-deps.ts';

/** The route of a `--to-route` requeue, compiled once per run. */
export interface RouteTarget {
  route: CompiledRoute;
  submitter: Submitter;
}

/**
 * Compiles the route a `--to-route` requeue sends to: its schema (from
 * `deps.payloadSchemas`, else the built-in ones) and its routing-key template.
 * Only this route is compiled, so a route elsewhere naming a schema this
 * process can't load does not stop the requeue.
 */
export async function openRouteTarget(deps: Pick<DlqDeps, 'topology' | 'publisher' | 'payloadSchemas'>, name: string): Promise<RouteTarget> {
  const config = Object.hasOwn(deps.topology.routes, name) ? deps.topology.routes[name] : undefined;
  const schemas = deps.payloadSchemas ? await deps.payloadSchemas() : BUILTIN_PAYLOAD_SCHEMAS;
  const routes = compileRoutes({ routes: config === undefined ? {} : { [name]: config } }, schemas);
  const submitter = createSubmitter({ routes, publisher: deps.publisher, appId: 'warren-dlq' });
  return { route: submitter.route(name), submitter };
}

/**
 * The routing key a dead letter gets on the target route, checked as the
 * submit use case checks a new job (schema, routing-key rule); the body
 * itself travels unchanged. `{ problem }` says why it can't go there.
 */
export function routeTargetKey(target: RouteTarget, content: Buffer): { key: string } | { problem: string } {
  const name = target.route.name;
  let payload: unknown;
  try {
    payload = JSON.parse(content.toString('utf8'));
  } catch {
    return { problem: `route '${name}' takes JSON jobs and this message's body is not JSON` };
  }
  try {
    return { key: target.submitter.target(target.route, payload) };
  } catch (err) {
    if (err instanceof JobValidationError) return { problem: `${err.message}: ${z.prettifyError(err.zodError)}` };
    if (err instanceof RoutingKeyError) return { problem: `route '${name}': ${err.message}` };
    throw err;
  }
}
