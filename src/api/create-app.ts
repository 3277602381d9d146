import { Hono } from 'hono';
import { DEFAULT_EVENT_PAYLOAD_BYTES } from '../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from '../submit/submitter.ts';
import type { ApiEnv } from './api-env.ts';
import { checkApiLimits } from './api-limits-env.ts';
import { DEFAULT_API_LIMITS, type ApiDeps, type AppContext } from './app-context.ts';
import { createAuthMiddleware } from './auth/auth-middleware.ts';
import { createBodyBudget } from './http/body-budget.ts';
import { createByteRate } from './http/byte-rate.ts';
import { createErrorHandler, notFoundHandler } from './http/error-handler.ts';
import { createKeyLimiter } from './http/key-limiter.ts';
import { createMetricsMiddleware } from './http/metrics-middleware.ts';
import { createIdempotencyGuard } from './jobs/idempotency-guard.ts';
import { createJobSubmitter } from './jobs/job-submitter.ts';
import { registerConsoleRoutes } from './console/register-console.ts';
import { registerDlqRoutes } from './routes/dlq.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerBatchRoutes } from './routes/job-batch.ts';
import { registerJobStatusRoutes } from './routes/job-status.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerMetricsRoutes } from './routes/metrics.ts';
import { registerPublishRoutes } from './routes/publish.ts';
import { registerRouteListRoutes } from './routes/route-list.ts';
import { openAiErrorShape, registerOpenAiRoutes } from './routes/openai.ts';
import { createUsageLedger } from './openai/usage-ledger.ts';

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
  checkApiLimits(limits);
  const routes = compileRoutes(deps.topology, deps.payloadSchemas ?? BUILTIN_PAYLOAD_SCHEMAS);
  const submitterDeps = { events: deps.events, index: deps.index, metrics: deps.metrics, payloadBytes: deps.topology.jobEvents?.payloadBytes ?? DEFAULT_EVENT_PAYLOAD_BYTES };
  const ctx: AppContext = {
    deps,
    limits,
    routes,
    submitter: createJobSubmitter({ submitter: createSubmitter({ routes, publisher: deps.publisher, appId: 'warren-api' }), ...submitterDeps }),
    exchangeSubmitter: createJobSubmitter({ submitter: createSubmitter({ routes, publisher: deps.exchangePublisher ?? deps.publisher, appId: 'warren-api' }), ...submitterDeps }),
    batchSubmitter: createJobSubmitter({ submitter: createSubmitter({ routes, publisher: deps.batchThread?.publisher ?? deps.batchPublisher ?? deps.publisher, appId: 'warren-api' }), ...submitterDeps }),
    guard: createIdempotencyGuard(deps.index, deps.history),
    batchSlots: createKeyLimiter({ perKey: limits.maxBatchesPerKey, code: 'TOO_MANY_BATCHES', what: 'batch requests in progress' }),
    batchRate: createByteRate({ bytesPerSecond: limits.batchBytesPerSecondPerKey, burstBytes: limits.maxBatchBodyBytes, code: 'BATCH_RATE_EXCEEDED', what: 'batch bytes' }),
    // A stream holds its slot for as long as its job runs: a refused client gains nothing by asking again within seconds.
    streamSlots: createKeyLimiter({ perKey: limits.maxStreamsPerKey, code: 'TOO_MANY_STREAMS', what: 'open event streams', retryAfter: [5, 15] }),
    bodyBudget: createBodyBudget({ totalBytes: limits.bodyBudgetBytes, perKeyBytes: limits.bodyBudgetPerKeyBytes }),
    usage: deps.usage ?? createUsageLedger(),
  };

  const app = new Hono<ApiEnv>();
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);
  app.use('*', createMetricsMiddleware(deps.metrics));

  // Probes are open: registered before authentication.
  registerHealthRoutes(app, ctx);

  // OpenAI's error shape on the front door's paths, also for refusals of the layers below (auth, body limits).
  if (deps.topology.openai !== undefined) {
    app.use('/v1/chat/*', openAiErrorShape);
    app.use('/v1/models', openAiErrorShape);
    app.use('/v1/models/*', openAiErrorShape);
  }
  const auth = createAuthMiddleware(deps.auth);
  // The body budget rides on the auth layer (no extra middleware per request): withBodyLimit reads it.
  app.use('/v1/*', (c, next) => {
    c.set('bodyBudget', ctx.bodyBudget);
    return auth(c, next);
  });
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
  registerDlqRoutes(app, ctx);
  // The operator console (HTML, /console): its own session cookie and CSRF checks; it calls the routes above in-process.
  registerConsoleRoutes(app, ctx);
  registerOpenAiRoutes(app, ctx);
  return app;
}
