import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayReadJob } from '../auth/authenticator.ts';
import { isTerminal, type JobStatusView } from '../status/job-status.ts';

const JOB_ID_RE = /^[\w.:-]{1,200}$/;

/** The job named in the path: 400 for a malformed id, 404 when unknown (or another key's), 503 while replaying. */
function lookup(ctx: AppContext, c: Context<ApiEnv>): JobStatusView {
  const id = c.req.param('id') ?? '';
  if (!JOB_ID_RE.test(id)) throw new ApiError(400, 'INVALID_JOB_ID', 'a job id is 1-200 letters, digits, _ . : or -');
  const view = ctx.deps.index.get(id);
  // Another key's job is reported exactly like an unknown one, so ids can't be probed.
  if (view !== undefined && mayReadJob(c.get('principal'), ctx.deps.index.ownerOf(id))) return view;
  if (!ctx.deps.index.isCaughtUp()) {
    throw new ApiError(503, 'STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly', { headers: { 'retry-after': '1' } });
  }
  throw new ApiError(404, 'JOB_NOT_FOUND', `no job '${id}' (unknown, or older than the status retention)`);
}

/** GET /v1/jobs/{id} and GET /v1/jobs/{id}/events (Server-Sent Events until the job ends). */
export function registerJobStatusRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, deps } = ctx;

  app.get('/v1/jobs/:id', (c) => c.json(lookup(ctx, c), 200));

  app.get('/v1/jobs/:id/events', (c) => {
    const first = lookup(ctx, c);
    return streamSSE(c, ctx.streamSlots.hold(c.get('principal').id, async (stream) => {
      let seq = 0;
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((r) => (resolveDone = r));
      // Writes are chained so messages keep their order even though listeners fire synchronously.
      let chain: Promise<void> = Promise.resolve();
      let lastData = '';
      const send = (view: JobStatusView) => {
        const data = JSON.stringify(view);
        // The index also notifies for events that change nothing (e.g. this replica's own `queued`
        // event coming back from the stream): the client only hears about real changes.
        if (data === lastData) return;
        lastData = data;
        chain = chain
          .then(() => stream.writeSSE({ event: view.status, id: String(++seq), data }))
          .then(() => {
            if (isTerminal(view.status)) resolveDone();
          })
          .catch(() => resolveDone());
      };
      const unsubscribe = deps.index.subscribe(first.id, send);
      // Reads the latest view after subscribing, so an event arriving in between is not lost.
      send(deps.index.get(first.id) ?? first);
      const heartbeat = setInterval(() => {
        chain = chain.then(() => stream.write(': keep-alive\n\n')).then(() => undefined, () => resolveDone());
      }, limits.sseHeartbeatMs);
      const maxAge = setTimeout(resolveDone, limits.sseMaxMs);
      stream.onAbort(resolveDone);
      deps.shutdown?.addEventListener('abort', resolveDone, { once: true });
      try {
        await done;
        await chain;
      } finally {
        unsubscribe();
        clearInterval(heartbeat);
        clearTimeout(maxAge);
        deps.shutdown?.removeEventListener('abort', resolveDone);
      }
    }));
  });
}
