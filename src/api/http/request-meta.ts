import type { Context } from 'hono';
import { nextTraceparent } from '../jobs/traceparent.ts';
import type { MessageMeta } from '../jobs/job-submitter.ts';
import { header } from './header.ts';

const CORRELATION_RE = /^[\x21-\x7e]{1,200}$/;

/** Message metadata for a request: trace context carried on, correlation id from `X-Correlation-Id` / `X-Request-Id` or the job id. */
export function requestMeta(c: Context, id: string, idempotent = false): MessageMeta {
  const given = header(c, 'x-correlation-id') ?? header(c, 'x-request-id');
  return {
    id,
    traceparent: nextTraceparent(header(c, 'traceparent')),
    correlationId: given !== undefined && CORRELATION_RE.test(given) ? given : id,
    idempotent,
  };
}
