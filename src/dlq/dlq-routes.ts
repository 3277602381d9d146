import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { isWarrenError } from '../errors/index.ts';
import type { DlqService } from './dlq-service.ts';
import { dlqFilterInputSchema, toDlqFilter, type DlqFilter } from './message-filter.ts';
import { parseRate } from './rate-limiter.ts';

/** Collaborators of {@link createDlqRoutes}. */
export interface DlqRoutesDeps {
  service: DlqService;
  /** Default cap on x-warren-requeued. @default 5 */
  maxRequeues?: number;
  /** @default Date.now */
  now?: () => number;
}

const STATUS: Record<string, ContentfulStatusCode> = {
  DLQ_QUEUE_NOT_FOUND: 404,
  DLQ_INVALID_FILTER: 400,
  DLQ_NOT_A_DEAD_LETTER_QUEUE: 422,
  DLQ_UNKNOWN_ROUTE: 422,
  DLQ_UNSUPPORTED_QUEUE: 422,
  DLQ_QUEUE_BUSY: 409,
  DLQ_CONNECTION_LOST: 503,
  BROKER_UNAVAILABLE: 503,
};

const listQuerySchema = dlqFilterInputSchema.extend({
  limit: z.coerce.number().int().positive().optional(),
  offset: z.coerce.number().int().nonnegative().default(0),
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  maxRequeues: z.coerce.number().int().nonnegative().optional(),
});

const requeueBodySchema = dlqFilterInputSchema.extend({
  limit: z.number().int().positive().optional(),
  toRoute: z.string().min(1).optional(),
  via: z.enum(['auto', 'exchange', 'queue']).optional(),
  dryRun: z.boolean().default(false),
  /** Publishes per second: a number or `500/s`. */
  rate: z.union([z.number().positive(), z.string()]).optional(),
  maxRequeues: z.number().int().nonnegative().optional(),
  keepAttempts: z.boolean().default(false),
  force: z.boolean().default(false),
});

function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

function invalid(c: Context, issues: z.core.$ZodIssue[] | string) {
  const message = typeof issues === 'string' ? issues : z.prettifyError(new z.ZodError(issues));
  return c.json(errorBody('DLQ_INVALID_FILTER', message), 400);
}

/** Maps DLQ and broker errors to statuses; anything else goes to the app's own error handler. */
function handle(c: Context, err: unknown) {
  if (isWarrenError(err) && STATUS[err.code] !== undefined) {
    return c.json(errorBody(err.code, err.message, err.details), STATUS[err.code] as ContentfulStatusCode);
  }
  throw err;
}

function buildFilter(input: z.output<typeof dlqFilterInputSchema>, now: number): DlqFilter | string {
  const r = toDlqFilter(input, now);
  return 'error' in r ? r.error : r.filter;
}

/**
 * `GET /:queue` (summary + a page of messages; the queue is left as it was) and
 * `POST /:queue/requeue` (same filters in the JSON body). The API mounts this at
 * `/v1/dlq` behind `requireScope('admin')`.
 */
export function createDlqRoutes(deps: DlqRoutesDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;

  app.get('/:queue', async (c) => {
    const raw: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(c.req.queries())) raw[k] = v.length === 1 ? (v[0] as string) : v;
    const parsed = listQuerySchema.safeParse(raw);
    if (!parsed.success) return invalid(c, parsed.error.issues);
    const { limit, offset, pageSize, maxRequeues, ...filterInput } = parsed.data;
    const filter = buildFilter(filterInput, now());
    if (typeof filter === 'string') return invalid(c, filter);
    try {
      const listing = await deps.service.list(c.req.param('queue'), {
        filter,
        offset,
        pageSize,
        maxRequeues: maxRequeues ?? deps.maxRequeues ?? 5,
        ...(limit === undefined ? {} : { limit }),
      });
      return c.json({ queue: c.req.param('queue'), ...listing, offset, pageSize });
    } catch (err) {
      return handle(c, err);
    }
  });

  app.post('/:queue/requeue', async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const parsed = requeueBodySchema.safeParse(body ?? {});
    if (!parsed.success) return invalid(c, parsed.error.issues);
    const { limit, toRoute, via, dryRun, rate, maxRequeues, keepAttempts, force, ...filterInput } = parsed.data;
    const filter = buildFilter(filterInput, now());
    if (typeof filter === 'string') return invalid(c, filter);
    const ratePerSec = rate === undefined ? undefined : typeof rate === 'number' ? rate : parseRate(rate);
    if (rate !== undefined && ratePerSec === undefined) return invalid(c, `rate '${String(rate)}' is not a rate (use e.g. 500/s or 30/m)`);
    try {
      const report = await deps.service.requeue(c.req.param('queue'), {
        filter,
        dryRun,
        keepAttempts,
        force,
        maxRequeues: maxRequeues ?? deps.maxRequeues ?? 5,
        signal: c.req.raw.signal,
        ...(limit === undefined ? {} : { limit }),
        ...(toRoute === undefined ? {} : { toRoute }),
        ...(via === undefined ? {} : { via }),
        ...(ratePerSec === undefined ? {} : { ratePerSec }),
      });
      if (report.error) return c.json({ ...errorBody(report.error.code, report.error.message), report }, STATUS[report.error.code] ?? 503);
      return c.json(report);
    } catch (err) {
      return handle(c, err);
    }
  });

  return app;
}


