import type { Hono } from 'hono';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayReadMetrics } from '../auth/authenticator.ts';

/**
 * GET /metrics: Prometheus text format. Needs a key with the `metrics` (or
 * `admin`) scope: the counters are per route for every tenant, which a
 * publishing key has no business reading. With WARREN_AUTH=none it is open.
 */
export function registerMetricsRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { metrics, index } = ctx.deps;
  app.get('/metrics', async (c) => {
    if (!mayReadMetrics(c.get('principal'))) throw new ApiError(403, 'FORBIDDEN', "this API key lacks the 'metrics' scope");
    metrics.setIndex(index.size(), index.isCaughtUp());
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });
}
