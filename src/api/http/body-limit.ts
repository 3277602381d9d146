import type { Context } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../api-error.ts';
import { header } from './header.ts';
import type { Release } from './key-limiter.ts';

/** Context of a route handler on any path: the route's own parameters are read with c.req.param, as in Hono's handlers. */
export type RouteContext = Context<ApiEnv, any>;

/**
 * Wraps a route handler with a 413 for a body over `maxBytes`. A request with
 * Content-Length is judged on the header alone (Node reads no more than it
 * announces) and goes straight to the handler: no middleware layer per
 * request, and @hono/node-server's lightweight request stays intact
 * (touching `req.raw.body`, as hono's bodyLimit does, builds a full WHATWG
 * Request and stream). Chunked bodies, whose size is unknown up front, go
 * through hono's streaming bodyLimit so they are cut off as soon as they pass
 * the limit.
 *
 * Within the limit, the request reserves its size in the API's body budget
 * (`bodyBudget` on the context, set by createApp) before anything reads the
 * body, and holds it until the handler has its response: 429 when the budget
 * (or the key's share of it) is in use. A chunked body reserves `maxBytes`, the
 * most it may turn out to be.
 */
export function withBodyLimit(maxBytes: number, handler: (c: RouteContext) => Promise<Response>): (c: RouteContext) => Promise<Response> {
  const tooLarge = (): never => {
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  const reserve = (c: RouteContext, bytes: number): Release | undefined => c.get('bodyBudget')?.reserve(c.get('principal')?.id ?? '', bytes);
  return async (c) => {
    const length = header(c, 'content-length');
    if (length !== undefined && header(c, 'transfer-encoding') === undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new ApiError(400, 'BAD_CONTENT_LENGTH', 'Content-Length must be a number of bytes');
      const bytes = Number(length);
      if (bytes > maxBytes) tooLarge();
      const release = reserve(c, bytes);
      if (release === undefined) return handler(c);
      try {
        return await handler(c);
      } finally {
        release();
      }
    }
    const release = reserve(c, maxBytes);
    let res: Response | undefined;
    try {
      await streaming(c as unknown as Context, async () => {
        res = await handler(c);
      });
    } finally {
      release?.();
    }
    return res ?? c.res;
  };
}
