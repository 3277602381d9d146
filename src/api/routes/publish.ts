import { newJobId } from '../../jobs/job-id.ts';
import type { Hono } from 'hono';
import { z } from 'zod';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { mayPublishExchange } from '../auth/authenticator.ts';
import { withBodyLimit } from '../http/body-limit.ts';
import { readJsonBody } from '../http/json-body.ts';
import { requestMeta } from '../http/request-meta.ts';
import { zodProblems } from '../http/validation-details.ts';
import { idempotentJobId, parseIdempotencyKey } from '../jobs/idempotency.ts';
import { header } from '../http/header.ts';

const headerValue = z.union([z.string().max(4096), z.number().finite(), z.boolean()]);

/** Body of POST /v1/publish/{exchange}. */
export const exchangePublishSchema = z
  .object({
    /** Routing key (direct, topic); ignored by fanout and headers exchanges. @default "" */
    routingKey: z.string().max(255).default(''),
    /** Message headers; a headers exchange routes on them. `x-warren-*` and `traceparent` are warren's. */
    headers: z
      .record(z.string().min(1).max(255), headerValue)
      .refine((h) => Object.keys(h).length <= 64, 'at most 64 headers')
      .default({}),
    /** The message body, any JSON value. */
    payload: z.unknown().refine((v) => v !== undefined, 'payload is required'),
    /** Message priority for classic queues with maxPriority. */
    priority: z.number().int().min(0).max(255).optional(),
  })
  .strict();

/** POST /v1/publish/{exchange}: a plain message to any non-internal exchange of the topology. */
export function registerPublishRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, submitter, guard, deps } = ctx;

  app.post('/v1/publish/:exchange', withBodyLimit(limits.maxBodyBytes, async (c) => {
    const exchange = c.req.param('exchange') ?? '';
    const config = Object.hasOwn(deps.topology.exchanges, exchange) ? deps.topology.exchanges[exchange] : undefined;
    if (config === undefined || config.internal) {
      throw new ApiError(404, 'EXCHANGE_UNKNOWN', `exchange '${exchange.slice(0, 100)}' is not a publishable exchange of the topology`);
    }
    c.set('warrenRoute', `exchange:${exchange}`);
    if (!mayPublishExchange(c.get('principal'), exchange)) {
      throw new ApiError(403, 'FORBIDDEN', `this API key may not publish to exchange '${exchange}' (it needs the grant 'exchange/${exchange}' or '*')`);
    }
    const key = parseIdempotencyKey(header(c, 'idempotency-key'));
    const parsed = exchangePublishSchema.safeParse(await readJsonBody(c));
    if (!parsed.success) {
      throw new ApiError(400, 'VALIDATION_FAILED', 'the body must be {"routingKey"?: string, "headers"?: {..}, "payload": any JSON, "priority"?: 0-255}', {
        details: zodProblems(parsed.error),
      });
    }
    const reserved = Object.keys(parsed.data.headers).filter((h) => h.toLowerCase().startsWith('x-warren-') || h.toLowerCase() === 'traceparent');
    if (reserved.length > 0) {
      throw new ApiError(400, 'VALIDATION_FAILED', 'x-warren-* headers and traceparent are set by warren', {
        details: reserved.map((h) => ({ path: `headers.${h}`, message: 'reserved header', code: 'custom' })),
      });
    }
    const { routingKey, headers, payload, priority } = parsed.data;
    const id = key === undefined ? newJobId() : idempotentJobId(c.get('principal').id, `exchange:${exchange}`, key);
    const job = submitter.prepareExchangeMessage(
      { exchange, routingKey, headers, payload, priority, timeoutMs: limits.exchangePublishTimeoutMs },
      requestMeta(c, id, key !== undefined),
    );
    if (key === undefined) {
      await submitter.publish(job);
    } else {
      const outcome = await guard.run(id, limits.exchangePublishTimeoutMs, () => submitter.publish(job));
      if (outcome.replayed) {
        c.header('idempotent-replayed', 'true');
        return c.json({ id, exchange, routingKey, status: outcome.view?.status ?? 'queued' }, 202);
      }
    }
    return c.json({ id, exchange, routingKey, status: 'queued' as const }, 202);
  }));
}
