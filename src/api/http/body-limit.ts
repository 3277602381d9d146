import type { Context } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../api-error.ts';
import { header } from './header.ts';

/**
 * Wraps a route handler with a 413 for a body over `maxBytes`. A request with
 * Content-Length is judged on the header alone (Node reads no more than it
 * announces) and goes straight to the handler: no middleware layer per
 * request, and @hono/node-server's lightweight request stays intact
 * (touching `req.raw.body`, as hono's bodyLimit does, builds a full WHATWG
 * Request and stream). Chunked bodies, whose size is unknown up front, go
 * through hono's streaming bodyLimit so they are cut off as soon as they pass
 * the limit.
 */
// Any path: the route's own parameters are read with c.req.param, as in Hono's handlers.
type RouteContext = Context<ApiEnv, any>;

export function withBodyLimit(maxBytes: number, handler: (c: RouteContext) => Promise<Response>): (c: RouteContext) => Promise<Response> {
  const tooLarge = (): never => {
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c) => {
    const length = header(c, 'content-length');
    if (length !== undefined && header(c, 'transfer-encoding') === undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new ApiError(400, 'BAD_CONTENT_LENGTH', 'Content-Length must be a number of bytes');
      if (Number(length) > maxBytes) tooLarge();
      return handler(c);
    }
    let res: Response | undefined;
    await streaming(c as unknown as Context, async () => {
      res = await handler(c);
    });
    return res ?? c.res;
  };
}
