import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayReadJob } from '../auth/authenticator.ts';
import { JOB_ID_PATTERN, jobIdTime } from '../../jobs/job-id.ts';
import { isTerminal, type JobStatusView } from '../status/job-status.ts';

/**
 * The job named in the path, as this key may see it: 400 for a malformed id;
 * 404 `JOB_EXPIRED` for a time-ordered id older than everything the stream
 * holds, 404 `JOB_NOT_FOUND` for an unknown id (or another key's job, so ids
 * can't be probed); 503 while the replica can't tell yet.
 */
async function lookup(ctx: AppContext, c: Context<ApiEnv>): Promise<JobStatusView> {
  const id = c.req.param('id') ?? '';
  if (!JOB_ID_PATTERN.test(id)) throw new ApiError(400, 'INVALID_JOB_ID', 'a job id is 1-200 letters, digits, _ . : or -');
  const principal = c.get('principal');
  const { history, index } = ctx.deps;
  if (history === undefined) {
    const view = index.get(id);
    if (view !== undefined && mayReadJob(principal, index.ownerOf(id))) return view;
    if (!index.isCaughtUp()) {
      throw new ApiError(503, 'STATUS_INDEX_REPLAYING', 'this API replica is still reading the job history; retry shortly', { headers: { 'retry-after': '1' } });
    }
    throw new ApiError(404, 'JOB_NOT_FOUND', `no job '${id}' (unknown, or older than the status retention)`);
  }
  const found = await history.find(id);
  if (found.found) {
    if (mayReadJob(principal, found.owner)) return found.view;
    throw new ApiError(404, 'JOB_NOT_FOUND', `no job '${id}' (unknown, older than the status retention, or not one of this key's jobs)`);
  }
  if (found.expired) {
    throw new ApiError(404, 'JOB_EXPIRED', `job '${id}' was created before the oldest job status the stream still holds (${found.oldestAt ?? 'unknown'}): its status aged out (jobEvents.maxAge / maxLengthBytes)`, {
      details: { expired: true, oldestAt: found.oldestAt ?? null },
    });
  }
  const timed = jobIdTime(id) !== undefined;
  throw new ApiError(
    404,
    'JOB_NOT_FOUND',
    timed
      ? `no job '${id}': the stream holds job status since ${found.oldestAt ?? 'its start'} and this id is not among it (never submitted, or not one of this key's jobs)`
      : `no job '${id}' (unknown, older than the status retention, or not one of this key's jobs)`,
    { details: { expired: false, oldestAt: found.oldestAt ?? null } },
  );
}

/** A job younger than this whose payload is not found may still have it on the way (the API batches its `queued` events and payloads). */
const PAYLOAD_PENDING_MS = 10_000;

/** Response headers of GET /v1/jobs/{id}/payload (see the OpenAPI document). */
export const PAYLOAD_HEADERS = { bytes: 'x-warren-payload-bytes', truncated: 'x-warren-payload-truncated' } as const;

/**
 * GET /v1/jobs/{id}/payload: the body the job was published with, as its
 * payload record stored it, read from the stream (jobEvents.payloadBytes);
 * same tenant rules and 404s as GET /v1/jobs/{id}. A download: the stored text
 * exactly, JSON when whole, plain text when cut at the cap (the headers say so).
 */
async function payload(ctx: AppContext, c: Context<ApiEnv>): Promise<Response> {
  const job = await lookup(ctx, c);
  const cap = ctx.deps.topology.jobEvents?.payloadBytes;
  const stored = await ctx.deps.history?.payload(job.id);
  if (stored === undefined) {
    if (ctx.deps.history !== undefined && cap !== 0 && Date.now() - Date.parse(job.createdAt) < PAYLOAD_PENDING_MS) {
      throw new ApiError(503, 'PAYLOAD_PENDING', `the payload of job '${job.id}' is not in the job history yet (it is on the way); retry shortly`, { headers: { 'retry-after': '1' } });
    }
    throw new ApiError(
      404,
      'PAYLOAD_NOT_STORED',
      `the job history holds no payload for job '${job.id}': ${cap === 0 ? 'this deployment keeps none (jobEvents.payloadBytes: 0)' : 'it was submitted while payloads were off (jobEvents.payloadBytes: 0) or before warren kept them'}; a dead-lettered job's message, payload included, is in its dead-letter queue`,
    );
  }
  return c.body(stored.text, 200, {
    'content-type': stored.truncated ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    'content-disposition': `attachment; filename="${job.id}.payload${stored.truncated ? '.part' : ''}.json"`,
    'x-content-type-options': 'nosniff',
    'cache-control': 'private, no-store',
    [PAYLOAD_HEADERS.bytes]: String(stored.totalBytes),
    [PAYLOAD_HEADERS.truncated]: String(stored.truncated),
  });
}

/** GET /v1/jobs/{id}, GET /v1/jobs/{id}/payload and GET /v1/jobs/{id}/events (Server-Sent Events until the job ends). */
export function registerJobStatusRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, deps } = ctx;

  app.get('/v1/jobs/:id', async (c) => c.json(await lookup(ctx, c), 200));
  app.get('/v1/jobs/:id/payload', async (c) => payload(ctx, c));

  app.get('/v1/jobs/:id/events', async (c) => {
    const first = await lookup(ctx, c);
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
