import type { Context } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import { nextTraceparent } from '../jobs/traceparent.ts';
import type { MessageMeta } from '../jobs/job-submitter.ts';
import { header } from './header.ts';

const CORRELATION_RE = /^[\x21-\x7e]{1,200}$/;

/**
 * Message metadata for a request: trace context carried on, correlation id from
 * `X-Correlation-Id` / `X-Request-Id` or the job id, and the calling key's name
 * as the job's owner.
 */
export function requestMeta(c: Context<ApiEnv>, id: string, idempotent = false): MessageMeta {
  const given = header(c, 'x-correlation-id') ?? header(c, 'x-request-id');
  return {
    id,
    owner: c.get('principal').name,
    traceparent: nextTraceparent(header(c, 'traceparent')),
    correlationId: given !== undefined && CORRELATION_RE.test(given) ? given : id,
    idempotent,
  };
}
