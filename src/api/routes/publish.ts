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
import { clientHeaderProblems, encodedHeaderBytes, isEncodableHeaderNumber } from '../jobs/client-headers.ts';
import { warrenOnlyExchanges } from '../jobs/publishable-exchanges.ts';

const headerValue = z.union([
  z.string().max(4096),
  z.number().refine(isEncodableHeaderNumber, 'a header number must be finite, and an integer within ±2^53 unless its magnitude is below 2^50'),
  z.boolean(),
]);

/** AMQP short strings (routing keys, header names) hold 255 bytes, not 255 characters. */
const shortString = (what: string) => z.string().refine((s) => Buffer.byteLength(s) <= 255, `${what} is at most 255 bytes (UTF-8)`);

/** Body of POST /v1/publish/{exchange}. */
export const exchangePublishSchema = z
  .object({
    /** Routing key (direct, topic); ignored by fanout and headers exchanges. @default "" */
    routingKey: shortString('routingKey').default(''),
    /**
     * Message headers; a headers exchange routes on them. Names the broker or warren reads are refused
     * (`x-*`, `CC`, `BCC`, `timestamp_in_ms`, `traceparent`; see client-headers.ts), and so are tables
     * larger than the API's header limit.
     */
    headers: z
      .record(z.string().min(1), headerValue)
      .refine((h) => Object.keys(h).length <= 64, 'at most 64 headers')
      .default({}),
    /** The message body, any JSON value. */
    payload: z.unknown().refine((v) => v !== undefined, 'payload is required'),
    /** Message priority for classic queues with maxPriority. */
    priority: z.number().int().min(0).max(255).optional(),
  })
  .strict();

/**
 * POST /v1/publish/{exchange}: a plain message to an exchange of the topology
 * that clients may publish to (not internal, dead-letter, results, job-events
 * or alternate exchanges: see warrenOnlyExchanges). The message goes through
 * `ctx.exchangeSubmitter`, on channels apart from route jobs (see ApiDeps.exchangePublisher).
 */
export function registerPublishRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { limits, exchangeSubmitter: submitter, guard, deps } = ctx;
  const warrenOnly = warrenOnlyExchanges(deps.topology);

  app.post('/v1/publish/:exchange', withBodyLimit(limits.maxBodyBytes, async (c) => {
    const exchange = c.req.param('exchange') ?? '';
    const config = Object.hasOwn(deps.topology.exchanges, exchange) ? deps.topology.exchanges[exchange] : undefined;
    const owner = warrenOnly.get(exchange);
    if (config === undefined || config.internal) {
      throw new ApiError(404, 'EXCHANGE_UNKNOWN', `exchange '${exchange.slice(0, 100)}' is not a publishable exchange of the topology`);
    }
    if (owner !== undefined) {
      throw new ApiError(403, 'EXCHANGE_RESERVED', `exchange '${exchange}' is ${owner}: only the broker and warren publish there, whatever the key's grants`);
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
    const problems = clientHeaderProblems(parsed.data.headers);
    if (problems.length > 0) {
      throw new ApiError(400, 'VALIDATION_FAILED', 'headers named x-*, CC, BCC, timestamp_in_ms or traceparent are read by the broker or set by warren; header names are at most 255 bytes', {
        details: problems,
      });
    }
    const headerBytes = encodedHeaderBytes(parsed.data.headers);
    if (headerBytes > limits.maxPublishHeaderBytes) {
      throw new ApiError(400, 'HEADERS_TOO_LARGE', `the headers take ${headerBytes} bytes encoded; the limit is ${limits.maxPublishHeaderBytes}`, {
        details: [{ path: 'headers', message: `at most ${limits.maxPublishHeaderBytes} bytes encoded`, code: 'too_big' }],
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
