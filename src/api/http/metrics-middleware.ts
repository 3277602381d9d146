import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiEnv } from '../api-env.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';

/**
 * Times every request into `http_request_duration_seconds`. Labels are the
 * matched path template (never the raw URL) and a known warren route, so a
 * scanner can't blow up the label cardinality.
 */
export function createMetricsMiddleware(metrics: ApiMetrics): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const path = c.res.status === 404 && c.get('warrenRoute') === undefined && c.req.path !== '/v1/jobs' ? templateOrUnmatched(c) : routePath(c, -1);
      metrics.http(path, c.get('warrenRoute') ?? '', c.req.method, c.res.status, (performance.now() - started) / 1000);
    }
  };
}

function templateOrUnmatched(c: Parameters<MiddlewareHandler<ApiEnv>>[0]): string {
  const p = routePath(c, -1);
  return p === '*' || p === '/*' || p === '/v1/*' ? 'unmatched' : p;
}
