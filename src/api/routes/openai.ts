import type { Context, Hono, MiddlewareHandler } from 'hono';
import { HEADERS } from '../../jobs/headers.ts';
import { newJobId } from '../../jobs/job-id.ts';
import { OPENAI_REPLY_FORMAT } from '../../jobs/reply-messages.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayPublishRoute } from '../auth/authenticator.ts';
import { withBodyLimit } from '../http/body-limit.ts';
import { header } from '../http/header.ts';
import { readJsonBody } from '../http/json-body.ts';
import { requestMeta } from '../http/request-meta.ts';
import { toApiError } from '../http/to-api-error.ts';
import { isTerminal } from '../status/job-status.ts';
import { resolveChatRequest } from '../openai/chat-request.ts';
import { openJobFeed, type FeedItem } from '../openai/job-feed.ts';
import { fromApiError, fromJobFailure, OpenAiError, typeOf } from '../openai/openai-error.ts';
import { lastError, relayStream } from '../openai/stream-relay.ts';

/** Response header naming the job behind a front-door answer (for GET /v1/jobs/{id} after a timeout or a lost stream). */
export const JOB_ID_HEADER = 'x-warren-job-id';

/** Any error as an OpenAI-shaped error. */
function toOpenAiError(err: unknown): OpenAiError {
  if (err instanceof OpenAiError) return err;
  return fromApiError(toApiError(err));
}

function errorResponse(c: Context<ApiEnv>, err: OpenAiError): Response {
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  if (err.jobId !== undefined) c.header(JOB_ID_HEADER, err.jobId);
  return c.json(err.body(), err.status);
}

/**
 * Rewrites warren's `{error: {code, message, details}}` answers on the front
 * door's paths (refusals of the auth, body-limit and not-found layers, which
 * run before the route) into OpenAI's `{error: {message, type, param, code}}`.
 */
export const openAiErrorShape: MiddlewareHandler<ApiEnv> = async (c, next) => {
  await next();
  const res = c.res;
  if (res.status < 400 || !(res.headers.get('content-type') ?? '').includes('application/json')) return;
  const body = (await res.clone().json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown; type?: unknown; details?: unknown } } | undefined;
  const e = body?.error;
  if (e === undefined || e.type !== undefined || typeof e.code !== 'string') return;
  const out = { error: { message: String(e.message ?? ''), type: typeOf(res.status), param: null, code: e.code.toLowerCase(), ...(e.details == null ? {} : { details: e.details }) } };
  const headers = new Headers(res.headers);
  headers.delete('content-length');
  c.res = new Response(JSON.stringify(out), { status: res.status, headers });
};

/**
 * The OpenAI-compatible front door: POST /v1/chat/completions as a job on a
 * configured route, answered when the job ends (or streamed as it runs), and
 * GET /v1/models from the alias map. Served only when topology.yaml has an
 * `openai:` section. docs/openai-front-door.md has the whole story.
 */
export function registerOpenAiRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const openai = ctx.deps.topology.openai;
  if (openai === undefined) return;
  const { deps, submitter, limits } = ctx;
  const consumers = deps.topology.consumers ?? {};
  const usage = ctx.usage;

  const models = (principal: ApiEnv['Variables']['principal']) =>
    Object.entries(openai.models)
      .filter(([, m]) => mayPublishRoute(principal, m.route ?? openai.route))
      .map(([id]) => ({ id, object: 'model' as const, created: 0, owned_by: 'warren' }));

  app.get('/v1/models', (c) => c.json({ object: 'list', data: models(c.get('principal')) }, 200));
  app.get('/v1/models/:model', (c) => {
    const id = c.req.param('model');
    const found = models(c.get('principal')).find((m) => m.id === id);
    if (found === undefined) return errorResponse(c, new OpenAiError(404, 'model_not_found', `The model '${id.slice(0, 200)}' does not exist here`, { param: 'model' }));
    return c.json(found, 200);
  });

  app.post(
    '/v1/chat/completions',
    withBodyLimit(limits.maxBodyBytes, async (c) => {
      const principal = c.get('principal');
      const signal = deps.shutdown ? AbortSignal.any([c.req.raw.signal, deps.shutdown]) : c.req.raw.signal;
      let admittedId: string | undefined;
      try {
        const body = await readJsonBody(c);
        const req = resolveChatRequest({ openai, routes: ctx.routes, consumers }, principal, body, header(c, 'x-warren-priority'));
        c.set('warrenRoute', req.route.name);
        if (req.stream && deps.replies?.isReady() !== true) {
          throw new OpenAiError(503, 'streaming_unavailable', 'this replica has no live reply channel to the workers right now; retry shortly', { headers: { 'retry-after': '1' } });
        }
        const limitsOfKey = openai.keys[principal.name]?.limits ?? openai.defaultLimits;
        const refusal = usage.check(principal.name, limitsOfKey, req.reservedTokens);
        if (refusal !== undefined) {
          deps.metrics.publish(req.route.name, 'over-budget');
          throw new OpenAiError(429, `budget_${refusal.limit.replace(/[A-Z]/g, (m: string) => `_${m.toLowerCase()}`)}`, refusal.message, { headers: { 'retry-after': String(refusal.retryAfterS) } });
        }

        const id = newJobId();
        const meta = { ...requestMeta(c, id), reservedTokens: req.reservedTokens };
        const job = submitter.prepareRouteJob(req.route, req.payload, meta);
        job.properties.headers = { ...job.properties.headers, [HEADERS.replyFormat]: OPENAI_REPLY_FORMAT };
        if (deps.replies?.isReady() === true) job.properties.replyTo = deps.replies.queue;
        const deadline = Date.now() + openai.waitTimeout;
        // Listening before the publish: a fast worker's first reply can't be missed.
        const feed = openJobFeed({ replies: deps.replies, index: deps.index }, id, signal);
        usage.admit(principal.name, id, req.reservedTokens);
        admittedId = id;
        try {
          await submitter.publish(job);
        } catch (err) {
          feed.close();
          throw err;
        }
        admittedId = undefined;
        c.header(JOB_ID_HEADER, id);

        // The first thing that decides the answer: a chunk starts a stream; a result or a failure answers at once.
        let first: FeedItem | undefined;
        for (;;) {
          const item = await feed.next(deadline);
          if (item === 'aborted') {
            feed.close();
            // The client left (or the replica shuts down): the job goes on and keeps its result.
            return c.body(null, 499 as never);
          }
          if (item === 'timeout') {
            feed.close();
            throw new OpenAiError(504, 'job_timeout', `job ${id} did not finish within ${Math.round(openai.waitTimeout / 1000)}s; it goes on: GET /v1/jobs/${id} (or /v1/jobs/${id}/events) gives its result`, { jobId: id });
          }
          if (item.kind === 'chunk') {
            if (req.stream) {
              first = item;
              break;
            }
            continue;
          }
          if (item.kind === 'done') {
            first = item;
            break;
          }
          if (!isTerminal(item.view.status)) continue;
          if (item.view.status !== 'succeeded') {
            feed.close();
            throw fromJobFailure(id, item.view.status, lastError(item.view));
          }
          first = item;
          break;
        }

        if (!req.stream) {
          feed.close();
          const result = first.kind === 'done' ? first.result : first.kind === 'view' ? first.view.result : undefined;
          return c.json(result as object, 200);
        }
        const stream = relayStream({ jobId: id, feed, first, deadline, includeUsage: req.includeUsage, onEnd: () => undefined });
        // `transfer-encoding: chunked` said up front: otherwise the node adapter looks ahead for a short body (reading
        // on after a timer turn before it writes the head), which holds the first token back by a timer turn.
        return new Response(stream, {
          status: 200,
          headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'transfer-encoding': 'chunked', [JOB_ID_HEADER]: id },
        });
      } catch (err) {
        if (admittedId !== undefined) usage.cancel(admittedId);
        return errorResponse(c, toOpenAiError(err));
      }
    }),
  );
}
