import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import { ANONYMOUS, hasScope, type Authenticator, type Principal } from './authenticator.ts';
import { header } from '../http/header.ts';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="warren"' };

/** The last Authorization header a connection authenticated with, and who it was. */
interface Remembered {
  header: Buffer;
  principal: Principal;
}

/** The TCP connection of a request on @hono/node-server (undefined elsewhere, e.g. app.request in tests). */
function connectionOf(c: Context): object | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket ?? undefined;
}

/**
 * Requires `Authorization: Bearer <key>` (401 otherwise) and puts the principal on the context.
 *
 * A keep-alive connection usually sends the same header on every request. The
 * header that last authenticated on a connection is remembered (for that
 * connection only, dropped with it) and a request presenting the same bytes is
 * let through without hashing again. The comparison is timingSafeEqual over the
 * header bytes, so a proxy's shared upstream connection leaks nothing of
 * another client's key but whether its length matches; any other header takes
 * the full path (hash, then constant-time comparison against every key).
 */
export function createAuthMiddleware(auth: Authenticator): MiddlewareHandler<ApiEnv> {
  const remembered = new WeakMap<object, Remembered>();
  return async (c, next) => {
    if (auth.open) {
      c.set('principal', ANONYMOUS);
      return next();
    }
    const authorization = header(c, 'authorization');
    if (authorization === undefined || authorization === '') {
      throw new ApiError(401, 'UNAUTHENTICATED', 'missing API key: send Authorization: Bearer <key>', { headers: CHALLENGE });
    }
    const connection = connectionOf(c);
    const known = connection === undefined ? undefined : remembered.get(connection);
    if (known !== undefined && Buffer.byteLength(authorization) === known.header.length && timingSafeEqual(Buffer.from(authorization), known.header)) {
      c.set('principal', known.principal);
      return next();
    }
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
    if (!match) throw new ApiError(401, 'UNAUTHENTICATED', 'malformed Authorization header: expected Bearer <key>', { headers: CHALLENGE });
    const principal = auth.authenticate(match[1] as string);
    // The message never repeats the presented key.
    if (!principal) throw new ApiError(401, 'INVALID_API_KEY', 'the API key is not valid', { headers: CHALLENGE });
    if (connection !== undefined) remembered.set(connection, { header: Buffer.from(authorization), principal });
    c.set('principal', principal);
    return next();
  };
}

/** Requires a scope on the authenticated principal (403 otherwise), e.g. `requireScope('admin')` for DLQ endpoints. */
export function requireScope(scope: string): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get('principal') as ApiEnv['Variables']['principal'] | undefined;
    if (principal === undefined) throw new ApiError(401, 'UNAUTHENTICATED', 'missing API key: send Authorization: Bearer <key>', { headers: CHALLENGE });
    if (!hasScope(principal, scope)) throw new ApiError(403, 'FORBIDDEN', `this API key lacks the '${scope}' scope`);
    return next();
  };
}
