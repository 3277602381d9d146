import { newJobId } from '../../jobs/job-id.ts';
import type { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { withBodyLimit, type RouteContext } from '../http/body-limit.ts';
import { readBatchBody } from '../http/batch-body.ts';
import { requestMeta } from '../http/request-meta.ts';
import { toApiError } from '../http/to-api-error.ts';
import { zodProblems } from '../http/validation-details.ts';
import { batchModeSchema, type BatchMode } from '../jobs/batch-mode.ts';
import { idempotentJobId, parseIdempotencyKey } from '../jobs/idempotency.ts';
import type { ApiJob } from '../jobs/job-submitter.ts';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';
import { resolveRoute } from './resolve-route.ts';
import { header } from '../http/header.ts';
import { mapTimeSliced, mapWindowed, type Window } from '../../util/time-sliced.ts';


/** Result of one job of a batch. */
export interface BatchItemResult {
  index: number;
  id?: string;
  status: 'queued' | 'rejected';
  replayed?: boolean;
  error?: { code: string; message: string; details: unknown };
}

/**
 * A batch's messages in flight at once. The batch shares the confirm channel with every other request:
 * paced by its confirms, it never puts more than 1 MiB (or 256 jobs) ahead of anyone else's publish.
 */
const PUBLISH_WINDOW: Window<ApiJob | ApiError> = { count: 256, weight: 256 * 1024, weigh: (p) => (p instanceof ApiError ? 0 : p.content.length) };

/** A job of a batch that could not be built into a message: what was thrown. */
class PrepareFailure {
  constructor(readonly error: unknown) {}
}

function itemError(err: ApiError): NonNullable<BatchItemResult['error']> {
  return { code: err.code, message: err.message, details: err.details ?? null };
}

/** POST /v1/jobs/{route}/batch: many jobs in one request, published concurrently on the confirm channels. */
export function registerBatchRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, batchSubmitter: submitter, guard } = ctx;
  const bodySchema = z.union([
    z.array(z.unknown()).min(1).max(limits.maxBatchItems),
    z.object({ mode: batchModeSchema.optional(), jobs: z.array(z.unknown()).min(1).max(limits.maxBatchItems) }).strict(),
  ]);

  app.post('/v1/jobs/:route/batch', withBodyLimit(limits.maxBatchBodyBytes, async (c) => {
    const route = resolveRoute(ctx, c);
    // Taken before the body is read: a key's batches in progress, and its batch bytes per second, are bounded (429 beyond).
    const releaseSlot = ctx.batchSlots.acquire(c.get('principal').id);
    try {
      const length = header(c, 'content-length');
      const charge = ctx.batchRate.admit(c.get('principal').id, length === undefined ? undefined : Number(length));
      return await publishBatch(c, route, charge);
    } finally {
      releaseSlot();
    }
  }));

  async function publishBatch(c: RouteContext, route: CompiledRoute, charge: (bytes: number) => void): Promise<Response> {
    const queryMode = c.req.query('mode');
    const key = parseIdempotencyKey(header(c, 'idempotency-key'));
    const principalId = c.get('principal').id;
    // Each job is validated and built into its message as soon as it is parsed (see ReadBatchOptions.mapItem);
    // its error, if any, is kept as thrown until the mode (which may come last in the body) is known.
    const prepareJob = (payload: unknown, text: string | undefined, i: number): ApiJob | PrepareFailure => {
      const id = key === undefined ? newJobId() : idempotentJobId(principalId, `route:${route.name}`, `${key}#${i}`);
      try {
        return submitter.prepareRouteJob(route, payload, requestMeta(c, id, key !== undefined), text);
      } catch (err) {
        return new PrepareFailure(err);
      }
    };
    const { value: body, itemBytes, bytes, mapped } = await readBatchBody(c, { maxItems: limits.maxBatchItems, mapItem: prepareJob });
    charge(bytes);
    const parsed = bodySchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(400, 'VALIDATION_FAILED', `a batch is a JSON array of jobs, or {"mode": "all-or-nothing" | "best-effort", "jobs": [...]}, with 1 to ${limits.maxBatchItems} jobs`, {
        details: zodProblems(parsed.error),
      });
    }
    const jobs = Array.isArray(parsed.data) ? parsed.data : parsed.data.jobs;
    const bodyMode = Array.isArray(parsed.data) ? undefined : parsed.data.mode;
    const fromQuery = queryMode === undefined ? undefined : batchModeSchema.safeParse(queryMode);
    if (fromQuery !== undefined && !fromQuery.success) {
      throw new ApiError(400, 'INVALID_MODE', "mode must be 'all-or-nothing' or 'best-effort'");
    }
    if (fromQuery?.data !== undefined && bodyMode !== undefined && fromQuery.data !== bodyMode) {
      throw new ApiError(400, 'INVALID_MODE', `mode is '${bodyMode}' in the body but '${fromQuery.data}' in the query`);
    }
    const mode: BatchMode = bodyMode ?? fromQuery?.data ?? 'all-or-nothing';

    // 1. Validate everything before publishing anything (done while reading, unless the body was parsed whole).
    const built = mapped ? (jobs as (ApiJob | PrepareFailure)[]) : await mapTimeSliced(jobs, (payload, i) => prepareJob(payload, itemBytes?.[i]?.toString('utf8'), i));
    const prepared: (ApiJob | ApiError)[] = built.map((p, i) => (p instanceof PrepareFailure ? toApiError(p.error, { pathPrefix: mode === 'all-or-nothing' ? ['jobs', i] : [] }) : p));
    const invalid = prepared.flatMap((p, i) => (p instanceof ApiError ? [{ index: i, error: p }] : []));
    if (mode === 'all-or-nothing' && invalid.length > 0) {
      throw new ApiError(400, 'VALIDATION_FAILED', `${invalid.length} of ${jobs.length} jobs are invalid; nothing was published`, {
        details: invalid.flatMap(({ index, error }) =>
          Array.isArray(error.details) ? (error.details as object[]).map((d) => ({ index, ...d })) : [{ index, path: `jobs.${index}`, message: error.message, code: error.code }],
        ),
      });
    }

    // 2. Publish the valid ones concurrently: the confirms come back pipelined, a window at a time.
    const results: BatchItemResult[] = await mapWindowed(
      prepared,
      async (p, index): Promise<BatchItemResult> => {
        if (p instanceof ApiError) return { index, status: 'rejected', error: itemError(p) };
        try {
          if (key === undefined) {
            await submitter.publish(p);
            return { index, id: p.id, status: 'queued' };
          }
          const outcome = await guard.run(p.id, p.timeoutMs, () => submitter.publish(p));
          return outcome.replayed ? { index, id: p.id, status: 'queued', replayed: true } : { index, id: p.id, status: 'queued' };
        } catch (err) {
          return { index, id: p.id, status: 'rejected', error: itemError(toApiError(err)) };
        }
      },
      PUBLISH_WINDOW,
    );
    const accepted = results.filter((r) => r.status === 'queued').length;
    const rejected = results.length - accepted;

    if (mode === 'all-or-nothing' && rejected > 0) {
      // Validation passed, but the broker refused some: say exactly which were stored, so a retry with the
      // same Idempotency-Key publishes only the missing ones.
      const failures = results.filter((r) => r.status === 'rejected');
      const status = failures.some((f) => f.error?.code === 'UNROUTABLE') && !failures.some((f) => f.error?.code !== 'UNROUTABLE') ? 422 : 503;
      throw new ApiError(status, 'BATCH_INCOMPLETE', `${rejected} of ${results.length} jobs were not published (the broker refused or did not confirm them); ${accepted} were queued. Retry with the same Idempotency-Key to publish only the missing ones.`, {
        details: { accepted: results.filter((r) => r.status === 'queued').map((r) => ({ index: r.index, id: r.id })), failed: failures },
        ...(status === 503 ? { headers: { 'retry-after': '2' } } : {}),
      });
    }
    return c.json({ route: route.name, mode, accepted, rejected, jobs: results }, rejected === 0 ? 202 : 207);
  }
}
