import { Hono } from 'hono';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import type { ApiEnv } from './api-env.ts';
import { DEFAULT_API_LIMITS, type ApiDeps, type AppContext } from './app-context.ts';
import { createAuthMiddleware, requireScope } from './auth/auth-middleware.ts';
import { createErrorHandler, notFoundHandler } from './http/error-handler.ts';
import { createMetricsMiddleware } from './http/metrics-middleware.ts';
import { createIdempotencyGuard } from './jobs/idempotency-guard.ts';
import { createJobSubmitter } from './jobs/job-submitter.ts';
import { compileRoutes } from './jobs/route-catalog.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerBatchRoutes } from './routes/job-batch.ts';
import { registerJobStatusRoutes } from './routes/job-status.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import { registerPublishRoutes } from './routes/publish.ts';
import { registerRouteListRoutes } from './routes/route-list.ts';

/** Options of {@link createApp} beyond its collaborators. */
export interface CreateAppOptions {
  /** Serve /openapi.json and /docs without an API key. @default false */
  publicDocs?: boolean;
}

/** The API as a Hono app; exported for `app.request()` tests and for the server in start-api.ts. */
export type WarrenApp = Hono<ApiEnv>;

/**
 * Builds the HTTP API from its collaborators. Nothing here opens a connection:
 * the composition root passes the real publisher and status index, tests pass
 * narrow fakes.
 */
export function createApp(deps: ApiDeps, options: CreateAppOptions = {}): WarrenApp {
  const limits = { ...DEFAULT_API_LIMITS, ...deps.limits };
  const routes = compileRoutes(deps.topology, deps.payloadSchemas ?? BUILTIN_PAYLOAD_SCHEMAS);
  const ctx: AppContext = {
    deps,
    limits,
    routes,
    submitter: createJobSubmitter({ publisher: deps.publisher, events: deps.events, index: deps.index, metrics: deps.metrics }),
    guard: createIdempotencyGuard(deps.index, deps.history),
  };

  const app = new Hono<ApiEnv>();
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);
  app.use('*', createMetricsMiddleware(deps.metrics));

  // Probes are open: registered before authentication.
  registerHealthRoutes(app, ctx);

  const auth = createAuthMiddleware(deps.auth);
  app.use('/v1/*', auth);
  app.use('/metrics', auth);
  if (options.publicDocs !== true) {
    app.use('/openapi.json', auth);
    app.use('/docs', auth);
  }

  registerJobRoutes(app, ctx);
  registerBatchRoutes(app, ctx);
  registerJobStatusRoutes(app, ctx);
  registerPublishRoutes(app, ctx);
  registerRouteListRoutes(app, ctx);
  registerMetricsRoutes(app, ctx);
  registerDocsRoutes(app, ctx);
  if (deps.dlq !== undefined) {
    app.use('/v1/dlq/*', requireScope('admin'));
    app.route('/v1/dlq', deps.dlq);
  }
  return app;
}
