import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayPublishRoute } from '../auth/authenticator.ts';

/** One entry of GET /v1/routes. */
export interface RouteInfo {
  name: string;
  description: string | null;
  exchange: string;
  routingKey: string;
  schema: string;
  publishTimeoutMs: number;
  /** JSON Schema of the job body. */
  payloadSchema: unknown;
}

/** GET /v1/routes: the routes this key may publish to, with their payload schemas. */
export function registerRouteListRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const all: RouteInfo[] = [...ctx.routes.values()].map((r) => ({
    name: r.name,
    description: r.description ?? null,
    exchange: r.exchange,
    routingKey: r.routingKey.source,
    schema: r.schemaName,
    publishTimeoutMs: r.publishTimeoutMs,
    payloadSchema: r.jsonSchema ?? null,
  }));
  app.get('/v1/routes', (c) => {
    const principal = c.get('principal');
    return c.json({ routes: all.filter((r) => mayPublishRoute(principal, r.name)) }, 200);
  });
}
