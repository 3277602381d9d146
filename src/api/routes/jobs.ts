import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayReadJob } from '../auth/authenticator.ts';
import { withBodyLimit } from '../http/body-limit.ts';
import { readJsonBodyWithText } from '../http/json-body.ts';
import { requestMeta } from '../http/request-meta.ts';
import { parseWait } from '../http/wait-param.ts';
import { idempotentJobId, parseIdempotencyKey } from '../jobs/idempotency.ts';
import { isTerminal } from '../status/job-status.ts';
import { resolveRoute } from './resolve-route.ts';
import { header } from '../http/header.ts';

/** POST /v1/jobs/{route}: one job, 202 once the broker confirmed it. */
export function registerJobRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, submitter, guard, deps } = ctx;

  app.post('/v1/jobs/:route', withBodyLimit(limits.maxBodyBytes, async (c) => {
    const route = resolveRoute(ctx, c);
    const waitMs = parseWait(c.req.query('wait'), limits.maxWaitMs);
    const key = parseIdempotencyKey(header(c, 'idempotency-key'));
    const { value: body, text } = await readJsonBodyWithText(c);
    const principal = c.get('principal');
    const id = key === undefined ? randomUUID() : idempotentJobId(principal.id, `route:${route.name}`, key);
    // Ids of idempotent jobs are per key, so the job is this key's; checked all the same (a renamed key keeps its ids).
    const readable = () => mayReadJob(principal, deps.index.ownerOf(id));

    // Validation happens before the guard so an invalid retry is a 400, never a replay of something else.
    const job = submitter.prepareRouteJob(route, body, requestMeta(c, id, key !== undefined), text);
    if (key === undefined) {
      await submitter.publish(job);
    } else {
      const outcome = await guard.run(id, route.publishTimeoutMs, () => submitter.publish(job));
      if (outcome.replayed) {
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
