import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ErrorClass } from '../config/topology-schema.ts';
import { ContentFilterError } from './content-filter-error.ts';

/** What an LLM call's failure means for the job. */
export interface LlmErrorClassification {
  errorClass: ErrorClass;
  /** HTTP status, when the provider answered. */
  status?: number;
  /** Delay the provider asked for (`retry-after-ms` / `retry-after`), in ms. */
  retryAfterMs?: number;
}

const CONTEXT_LENGTH = /context[_ ]length|maximum context|context window|too many tokens|prompt is too long|input is too long/i;
const CONTENT_FILTER = /content[_ ]filter|content management policy|content[_ ]policy|safety system|responsible ?ai/i;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Parses `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP
 * date) from a provider's response headers.
 */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  const seconds = Number(ra);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function errorCode(err: APIError): string {
  const body = err.error as { code?: unknown; type?: unknown } | undefined;
  return [err.code, err.type, body?.code, body?.type].filter((x): x is string => typeof x === 'string').join(' ');
}

/** Maps one HTTP status answered by an OpenAI-compatible provider to a warren error class. */
function classifyStatus(err: APIError, status: number): ErrorClass {
  const code = errorCode(err);
  const text = `${code} ${err.message}`;
  if (status === 429) {
    // OpenAI answers 429 `insufficient_quota` when billing is exhausted: no
    // amount of waiting helps, an operator has to act, so it is an account error.
    return /insufficient_quota/.test(code) ? 'auth' : 'rate-limited';
  }
  if (status === 400 || status === 413) {
    if (CONTEXT_LENGTH.test(text)) return 'context-length';
    if (CONTENT_FILTER.test(text)) return 'content-filter';
    return 'bad-request';
  }
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not-found';
  if (status === 422) return 'unprocessable';
  if (status === 408) return 'timeout';
  // 409 is how OpenAI reports a lock timeout on its side; the SDK itself retries it.
  if (status === 409 || status >= 500) return 'server-error';
  return 'bad-request';
}

/**
 * Classifies an error thrown by the openai SDK (or by fetch underneath it).
 * Returns undefined for errors that did not come from an LLM call, so the
 * caller can fall through to its own rules.
 */
export function classifyLlmError(err: unknown): LlmErrorClassification | undefined {
  // The SDK's own ContentFilterFinishReasonError (from its parse helpers) is not exported from the package root: match its class name.
  if (err instanceof ContentFilterError || (err instanceof Error && err.constructor.name === 'ContentFilterFinishReasonError')) return { errorClass: 'content-filter' };
  // Order matters: the timeout and abort errors are subclasses of APIError without a status.
  if (err instanceof APIConnectionTimeoutError) return { errorClass: 'timeout' };
  if (err instanceof APIUserAbortError) return { errorClass: 'timeout' };
  if (err instanceof APIConnectionError) return { errorClass: 'connection' };
  if (err instanceof APIError && typeof err.status === 'number') {
    const errorClass = classifyStatus(err, err.status);
    const retryAfterMs = parseRetryAfter(err.headers);
    return { errorClass, status: err.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code ?? ((err.cause as NodeJS.ErrnoException | undefined)?.code);
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return { errorClass: 'connection' };
    if (err.name === 'TimeoutError') return { errorClass: 'timeout' };
  }
  return undefined;
}
