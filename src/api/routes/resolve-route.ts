import type { Context } from 'hono';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayPublishRoute } from '../auth/authenticator.ts';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';

/** The route named in the path: 404 when unknown, 403 when the key may not publish to it. */
export function resolveRoute(ctx: AppContext, c: Context<ApiEnv>): CompiledRoute {
  const name = c.req.param('route') ?? '';
  const route = ctx.routes.get(name);
  if (route === undefined) {
    throw new ApiError(404, 'ROUTE_NOT_FOUND', `unknown route '${name.slice(0, 100)}'; GET /v1/routes lists the routes you may publish to`);
  }
  c.set('warrenRoute', route.name);
  if (!mayPublishRoute(c.get('principal'), route.name)) {
    throw new ApiError(403, 'FORBIDDEN', `this API key may not publish to route '${route.name}'`);
  }
  return route;
}
