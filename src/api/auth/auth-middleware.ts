import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import { ANONYMOUS, hasScope, type Authenticator } from './authenticator.ts';
import { header } from '../http/header.ts';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="warren"' };

/** Requires `Authorization: Bearer <key>` (401 otherwise) and puts the principal on the context. */
export function createAuthMiddleware(auth: Authenticator): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (auth.open) {
      c.set('principal', ANONYMOUS);
      return next();
    }
    const authorization = header(c, 'authorization');
    if (authorization === undefined || authorization === '') {
      throw new ApiError(401, 'UNAUTHENTICATED', 'missing API key: send Authorization: Bearer <key>', { headers: CHALLENGE });
    }
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
    if (!match) throw new ApiError(401, 'UNAUTHENTICATED', 'malformed Authorization header: expected Bearer <key>', { headers: CHALLENGE });
    const principal = auth.authenticate(match[1] as string);
    // The message never repeats the presented key.
    if (!principal) throw new ApiError(401, 'INVALID_API_KEY', 'the API key is not valid', { headers: CHALLENGE });
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
