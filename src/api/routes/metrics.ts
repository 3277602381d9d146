import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';

/** GET /metrics: Prometheus text format (needs an API key like everything but the probes). */
export function registerMetricsRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { metrics, index } = ctx.deps;
  app.get('/metrics', async (c) => {
    metrics.setIndex(index.size(), index.isCaughtUp());
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });
}
