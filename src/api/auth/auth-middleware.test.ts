import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../observability/logger.ts';
import type { ApiEnv } from '../api-env.ts';
import { createErrorHandler } from '../http/error-handler.ts';
import { parseApiKeysEnv } from './api-keys.ts';
import { createAuthMiddleware, requireScope } from './auth-middleware.ts';
import { createAuthenticator } from './authenticator.ts';

function app(): Hono<ApiEnv> {
  const a = new Hono<ApiEnv>();
  a.onError(createErrorHandler(createSilentLogger()));
  a.use('*', createAuthMiddleware(createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('user-key:*;admin-key:*:admin') })));
  a.get('/dlq', requireScope('admin'), (c) => c.json({ who: c.get('principal').name }));
  return a;
}

describe('requireScope', () => {
  it('lets the admin scope through and answers 403 otherwise', async () => {
    const a = app();
    const ok = await a.request('/dlq', { headers: { authorization: 'Bearer admin-key' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ who: 'env#2' });
    const denied = await a.request('/dlq', { headers: { authorization: 'Bearer user-key' } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: { code: 'FORBIDDEN', message: "this API key lacks the 'admin' scope", details: null } });
    expect((await a.request('/dlq')).status).toBe(401);
  });

  it('accepts the scheme case-insensitively', async () => {
    expect((await app().request('/dlq', { headers: { authorization: 'bearer admin-key' } })).status).toBe(200);
  });
});
