import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { Logger } from '../../observability/logger.ts';
import { ApiError, errorBody } from '../api-error.ts';
import { toApiError } from './to-api-error.ts';
import { lingerUnreadBody } from './unread-body.ts';

/** Writes an ApiError as the JSON error response. */
export function errorResponse(c: Context, err: ApiError): Response {
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  lingerUnreadBody(c);
  return c.json(errorBody(err), err.status);
}

/** Describes an error for a log line: name and message, never request data. */
function describe(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { value: String(err) };
}

/**
 * The one onError of the app: typed errors become their status, the rest a 500
 * that is logged but not shown. 503s (broker away, queue full) are logged at
 * most once a second per code so an outage doesn't flood the log.
 */
export function createErrorHandler(logger: Logger): ErrorHandler {
  const lastLogged = new Map<string, number>();
  return (err, c) => {
    const apiError = toApiError(err);
    if (apiError.status === 500) {
      logger.error({ err: describe(err), method: c.req.method, path: c.req.path }, 'request failed with an unexpected error');
    } else if (apiError.status === 503) {
      const now = Date.now();
      if (now - (lastLogged.get(apiError.code) ?? 0) >= 1_000) {
        lastLogged.set(apiError.code, now);
        logger.warn({ code: apiError.code, message: apiError.message, path: c.req.path }, 'publish unavailable');
      }
    }
    return errorResponse(c, apiError);
  };
}

/** 404 for paths the API does not have, in the same JSON shape. */
export const notFoundHandler: NotFoundHandler = (c) =>
  errorResponse(c, new ApiError(404, 'NOT_FOUND', `no such endpoint: ${c.req.method} ${c.req.path.slice(0, 200)}`));
