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

describe('per-connection memory of the Authorization header', () => {
  async function server() {
    const { serve } = await import('@hono/node-server');
    const auth = createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('user-key:*;admin-key:*:admin') });
    let hashed = 0;
    const counting = { open: false, authenticate: (t: string) => (hashed++, auth.authenticate(t)) };
    const a = new Hono<ApiEnv>();
    a.onError(createErrorHandler(createSilentLogger()));
    a.use('*', createAuthMiddleware(counting));
    a.get('/who', (c) => c.json({ who: c.get('principal').name }));
    const s = serve({ fetch: a.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => s.once('listening', r));
    const port = (s.address() as { port: number }).port;
    return { port, hashed: () => hashed, close: () => new Promise((r) => s.close(r)) };
  }

  /** GETs /who over `agent` (one keep-alive socket) and returns status and body. */
  async function who(port: number, agent: import('node:http').Agent, key: string): Promise<[number, unknown]> {
    const http = await import('node:http');
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/who', agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve([res.statusCode ?? 0, JSON.parse(text)]));
        })
        .on('error', reject);
    });
  }

  it('skips the hash when a connection repeats its header, and never lets another header ride on it', async () => {
    const { Agent } = await import('node:http');
    const s = await server();
    const one = new Agent({ keepAlive: true, maxSockets: 1 });
    const two = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) expect(await who(s.port, one, 'user-key')).toEqual([200, { who: 'env#1' }]);
      expect(s.hashed()).toBe(1);
      // Same connection, a wrong key of the same length and one of another length: both rejected.
      expect((await who(s.port, one, 'user-kez'))[0]).toBe(401);
      expect((await who(s.port, one, 'user-key-longer'))[0]).toBe(401);
      // Another valid key on the same connection is that key's principal.
      expect(await who(s.port, one, 'admin-key')).toEqual([200, { who: 'env#2' }]);
      expect(await who(s.port, one, 'admin-key')).toEqual([200, { who: 'env#2' }]);
      expect(s.hashed()).toBe(4);
      // Another connection authenticates for itself.
      expect(await who(s.port, two, 'user-key')).toEqual([200, { who: 'env#1' }]);
      expect(s.hashed()).toBe(5);
    } finally {
      one.destroy();
      two.destroy();
      await s.close();
    }
  });
});
