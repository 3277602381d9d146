import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/**
 * One request header. On @hono/node-server it reads Node's already-parsed
 * `incoming.headers` object: `c.req.header()` first builds a WHATWG Headers
 * object from the raw headers, which costs more than the lookup itself on
 * the publish hot path. Elsewhere (app.request in tests, other runtimes) it
 * falls back to `c.req.header()`. `name` must be lower-case.
 */
export function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
