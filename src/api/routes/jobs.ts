import type { Context, Hono } from 'hono';
import { jobStatusSchema, type JobStatus } from '../../jobs/job-event.ts';
import { newJobId } from '../../jobs/job-id.ts';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayReadJob } from '../auth/authenticator.ts';
import { withBodyLimit } from '../http/body-limit.ts';
import { readJsonBodyWithText } from '../http/json-body.ts';
import { requestMeta } from '../http/request-meta.ts';
import { startPublishTrace } from '../jobs/job-trace.ts';
import { parseWait } from '../http/wait-param.ts';
import { idempotentJobId, parseIdempotencyKey } from '../jobs/idempotency.ts';
import { isCursor, listFromRecords, type ListQuery } from '../status/job-listing.ts';
import { isTerminal } from '../status/job-status.ts';
import { resolveRoute } from './resolve-route.ts';
import { header } from '../http/header.ts';

/** Jobs per page of GET /v1/jobs: default and maximum. */
export const LIST_LIMIT = { default: 50, max: 200 } as const;

const STATUSES: ReadonlySet<string> = new Set(jobStatusSchema.options);

function timeParam(name: string, value: string): number {
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) throw new ApiError(400, 'INVALID_QUERY', `${name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z${name === 'before' ? ", or the 'next' cursor of a previous page" : ''}`);
  return at;
}

/** The listing query of GET /v1/jobs, validated; 400 names the parameter at fault. */
function listQuery(c: Context<ApiEnv>): Omit<ListQuery, 'visible'> {
  const q = (name: string) => {
    const v = c.req.query(name);
    return v === undefined || v === '' ? undefined : v;
  };
  const limitRaw = q('limit');
  const limit = limitRaw === undefined ? LIST_LIMIT.default : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT.max) throw new ApiError(400, 'INVALID_QUERY', `limit must be a whole number from 1 to ${LIST_LIMIT.max}`);
  const query: Omit<ListQuery, 'visible'> = { limit };
  const route = q('route');
  if (route !== undefined) {
    if (route.length > 200) throw new ApiError(400, 'INVALID_QUERY', 'route is at most 200 characters');
    query.route = route;
  }
  const queue = q('queue');
  if (queue !== undefined) {
    if (queue.length > 255) throw new ApiError(400, 'INVALID_QUERY', 'queue is at most 255 characters');
    query.queue = queue;
  }
  const idPrefix = q('idPrefix');
  if (idPrefix !== undefined) {
    if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(idPrefix)) throw new ApiError(400, 'INVALID_QUERY', 'idPrefix is 1-200 letters, digits, _ . : or - (the start of a job id)');
    query.idPrefix = idPrefix;
  }
  const status = q('status');
  if (status !== undefined) {
    const list = status.split(',').map((s) => s.trim());
    const bad = list.filter((s) => !STATUSES.has(s));
    if (bad.length > 0) throw new ApiError(400, 'INVALID_QUERY', `status must be one or more of ${[...STATUSES].join(', ')} (comma-separated); got '${bad[0]!.slice(0, 50)}'`);
    query.statuses = new Set(list as JobStatus[]);
  }
  const before = q('before');
  if (before !== undefined) query.before = /^\d{4}-\d{2}-\d{2}/.test(before) ? { at: timeParam('before', before) } : isCursor(before) ? { cursor: before } : { at: timeParam('before', before) };
  const after = q('after');
  if (after !== undefined) query.after = timeParam('after', after);
  return query;
}

/** POST /v1/jobs/{route}: one job, 202 once the broker confirmed it; GET /v1/jobs: the key's jobs, newest first, paged. */
export function registerJobRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, submitter, guard, deps } = ctx;

  app.get('/v1/jobs', async (c) => {
    const principal = c.get('principal');
    const query: ListQuery = { ...listQuery(c), visible: (owner) => mayReadJob(principal, owner) };
    const page = deps.history !== undefined ? await deps.history.list(query) : listFromRecords(deps.index.records(), query);
    return c.json(page, 200);
  });

  app.post('/v1/jobs/:route', withBodyLimit(limits.maxBodyBytes, async (c) => {
    const route = resolveRoute(ctx, c);
    const waitMs = parseWait(c.req.query('wait'), limits.maxWaitMs);
    const key = parseIdempotencyKey(header(c, 'idempotency-key'));
    const { value: body, text } = await readJsonBodyWithText(c);
    const principal = c.get('principal');
    const id = key === undefined ? newJobId() : idempotentJobId(principal.id, `route:${route.name}`, key);
    // Ids of idempotent jobs are per key, so the job is this key's; checked all the same (a renamed key keeps its ids).
    const readable = () => mayReadJob(principal, deps.index.ownerOf(id));

    // Validation happens before the guard so an invalid retry is a 400, never a replay of something else.
    const meta = requestMeta(c, id, key !== undefined);
    // An ordered route keyed by a request header (docs/ordered-routes.md).
    if (route.ordering?.source.kind === 'header') meta.orderHeader = header(c, route.ordering.source.name);
    const trace = deps.tracer === undefined ? undefined : startPublishTrace(deps.tracer, header(c, 'traceparent'), route.name, id);
    if (trace !== undefined) meta.traceparent = trace.traceparent;
    let job;
    try {
      job = submitter.prepareRouteJob(route, body, meta, text);
    } catch (err) {
      trace?.end(err);
      throw err;
    }
    const publish = trace === undefined ? () => submitter.publish(job) : () => submitter.publish(job).then(() => trace.end(), (err: unknown) => { trace.end(err); throw err; });
    if (key === undefined) {
      await publish();
    } else {
      const outcome = await guard.run(id, route.publishTimeoutMs, publish);
      if (outcome.replayed) {
        trace?.end();
        c.header('idempotent-replayed', 'true');
        deps.metrics.publish(route.name, 'duplicate');
        return c.json({ id, route: route.name, status: (readable() ? outcome.view?.status : undefined) ?? 'queued' }, 202);
      }
    }

    if (waitMs !== undefined) {
      const signal = deps.shutdown ? AbortSignal.any([c.req.raw.signal, deps.shutdown]) : c.req.raw.signal;
      const view = await deps.index.waitFor(id, (v) => isTerminal(v.status), waitMs, signal);
      const shown = view !== undefined && readable() ? view : undefined;
      if (shown !== undefined && isTerminal(shown.status)) return c.json(shown, 200);
      return c.json({ id, route: route.name, status: shown?.status ?? 'queued' }, 202);
    }
    return c.json({ id, route: route.name, status: 'queued' as const }, 202);
  }));
}
