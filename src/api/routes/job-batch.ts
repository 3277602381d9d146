import type { Hono } from 'hono';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';
import { mapWindowed, type Window } from '../../util/time-sliced.ts';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { batchBodySource } from '../http/batch-body.ts';
import { withBodyLimit, type RouteContext } from '../http/body-limit.ts';
import { header } from '../http/header.ts';
import { requestMetaTemplate } from '../http/request-meta.ts';
import { toApiError } from '../http/to-api-error.ts';
import { prepareBatch, type BatchRequest, type PreparedBatch } from '../jobs/batch-preparation.ts';
import { parseIdempotencyKey } from '../jobs/idempotency.ts';
import type { ApiJob } from '../jobs/job-submitter.ts';
import { resolveRoute } from './resolve-route.ts';

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
 * paced by its confirms, it never puts more than 256 KiB (or 256 jobs) ahead of anyone else's publish.
 */
const PUBLISH_WINDOW: Window<ApiJob | ApiError> = { count: 256, weight: 256 * 1024 };

function itemError(err: ApiError): NonNullable<BatchItemResult['error']> {
  return { code: err.code, message: err.message, details: err.details ?? null };
}

/** POST /v1/jobs/{route}/batch: many jobs in one request, published concurrently on the confirm channels. */
export function registerBatchRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, batchSubmitter: submitter, guard } = ctx;

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
    const key = parseIdempotencyKey(header(c, 'idempotency-key'));
    const request: BatchRequest = {
      principalId: c.get('principal').id,
      key,
      queryMode: c.req.query('mode'),
      meta: requestMetaTemplate(c, key !== undefined),
      maxItems: limits.maxBatchItems,
    };
    const source = batchBodySource(c);
    // 1. Read and validate everything before publishing anything: in the batch thread when there is one (batch-thread.ts).
    const thread = ctx.deps.batchThread;
    if (thread === undefined) {
      const batch = await prepareBatch({ source, route, request, prepare: (r, payload, meta, text) => submitter.prepareRouteJob(r, payload, meta, text), onRead: charge });
      return publishPrepared(c, route, key, batch, (p) => p.content.length);
    }
    const batch = await thread.prepare(route, request, source, {
      onRead: charge,
      onInvalid: (count) => {
        for (let i = 0; i < count; i++) ctx.deps.metrics.publish(route.name, 'invalid');
      },
    });
    try {
      return await publishPrepared(c, route, key, batch, batch.bytesOf);
    } finally {
      batch.release();
    }
  }

  async function publishPrepared(c: RouteContext, route: CompiledRoute, key: string | undefined, batch: PreparedBatch, bytesOf: (job: ApiJob) => number): Promise<Response> {
    const { mode, items: prepared } = batch;
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
      { ...PUBLISH_WINDOW, weigh: (p) => (p instanceof ApiError ? 0 : bytesOf(p)) },
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
