import type { Context } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import { nextTraceparent } from '../jobs/traceparent.ts';
import type { MessageMeta } from '../jobs/job-submitter.ts';
import { header } from './header.ts';

const CORRELATION_RE = /^[\x21-\x7e]{1,200}$/;

/** What a request's jobs' metadata is made of, before each job's id: plain data (it crosses to the batch thread). */
export interface MetaTemplate {
  owner: string;
  /** The request's `traceparent` header, as sent. */
  incomingTraceparent: string | undefined;
  /** A valid `X-Correlation-Id` / `X-Request-Id`, when the request has one. */
  correlationId: string | undefined;
  idempotent: boolean;
}

/** The request's part of its jobs' metadata (see {@link requestMeta}). */
export function requestMetaTemplate(c: Context<ApiEnv>, idempotent = false): MetaTemplate {
  const given = header(c, 'x-correlation-id') ?? header(c, 'x-request-id');
  return {
    owner: c.get('principal').name,
    incomingTraceparent: header(c, 'traceparent'),
    correlationId: given !== undefined && CORRELATION_RE.test(given) ? given : undefined,
    idempotent,
  };
}

/** One job's metadata: a span of its own under the request's trace, the correlation id or else the job id. */
export function metaFor(template: MetaTemplate, id: string): MessageMeta {
  return {
    id,
    owner: template.owner,
    traceparent: nextTraceparent(template.incomingTraceparent),
    correlationId: template.correlationId ?? id,
    idempotent: template.idempotent,
  };
}

/**
 * Message metadata for a request: trace context carried on, correlation id from
 * `X-Correlation-Id` / `X-Request-Id` or the job id, and the calling key's name
 * as the job's owner.
 */
export function requestMeta(c: Context<ApiEnv>, id: string, idempotent = false): MessageMeta {
  return metaFor(requestMetaTemplate(c, idempotent), id);
}
