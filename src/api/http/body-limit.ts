import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../api-error.ts';
import { header } from './header.ts';

/**
 * 413 for a body over `maxBytes`. A request with Content-Length is judged on
 * the header alone (Node reads no more than it announces), which keeps
 * @hono/node-server's lightweight request intact: touching `req.raw.body`, as
 * hono's bodyLimit does, builds a full WHATWG Request and stream per request.
 * Chunked bodies, whose size is unknown up front, go through hono's streaming
 * bodyLimit so they are cut off as soon as they pass the limit.
 */
export function createBodyLimit(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = header(c, 'content-length');
    if (length !== undefined && header(c, 'transfer-encoding') === undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new ApiError(400, 'BAD_CONTENT_LENGTH', 'Content-Length must be a number of bytes');
      if (Number(length) > maxBytes) tooLarge();
      return next();
    }
    return streaming(c, next);
  };
}
