import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashApiKey, loadAuthConfig, parseApiKeysEnv, parseApiKeysFile } from './api-keys.ts';
import { createAuthenticator, hasScope, mayPublishExchange, mayPublishRoute } from './authenticator.ts';

describe('WARREN_API_KEYS', () => {
  it('parses routes and scopes per key', () => {
    const keys = parseApiKeysEnv('key1:chat,task;key2:*; adminkey:*:admin ');
    expect(keys.map((k) => [k.name, [...k.grants], [...k.scopes]])).toEqual([
      ['env#1', ['chat', 'task'], []],
      ['env#2', ['*'], []],
      ['env#3', ['*'], ['admin']],
    ]);
    expect(keys[0]!.keyHash.equals(hashApiKey('key1'))).toBe(true);
  });

  it.each([
    ['nokey', "WARREN_API_KEYS entry #1 must look like 'key:route1,route2' or 'key:*:admin' (key, routes, optional scopes separated by ':')"],
    ['a:b:c:d', "WARREN_API_KEYS entry #1 must look like 'key:route1,route2' or 'key:*:admin' (key, routes, optional scopes separated by ':')"],
    ['ok:chat;bad key:chat', 'WARREN_API_KEYS entry #2: the key is empty or has spaces / non-ASCII characters'],
    ['k:', "WARREN_API_KEYS entry #1: list the routes it may publish to, or '*'"],
  ])('rejects %s with a message that never repeats the key', (value, message) => {
    expect(() => parseApiKeysEnv(value)).toThrow(message);
  });
});

describe('keys file', () => {
  it('accepts YAML and JSON, keys or their sha256', () => {
    const yaml = 'keys:\n  - { name: ci, key: ci-secret, routes: [task] }\n  - { name: ops, sha256: ' + hashApiKey('ops-secret').toString('hex') + ', routes: ["*"], scopes: [admin] }\n';
    const keys = parseApiKeysFile(yaml, 'keys.yaml');
    const auth = createAuthenticator({ mode: 'keys', keys });
    expect(auth.authenticate('ci-secret')?.name).toBe('ci');
    expect(auth.authenticate('ops-secret')?.name).toBe('ops');
    expect(hasScope(auth.authenticate('ops-secret')!, 'admin')).toBe(true);
    const json = parseApiKeysFile(JSON.stringify({ keys: [{ key: 'j', routes: ['chat'] }] }), 'k.json');
    expect(json[0]!.name).toBe('file#1');
  });

  it('names every problem', () => {
    expect(() => parseApiKeysFile('keys:\n  - { key: a, sha256: ' + 'a'.repeat(64) + ', routes: [] }\n', 'k.yaml')).toThrow(
      "API keys file k.yaml is invalid: keys.0.routes: Too small: expected array to have >=1 items; keys.0: give exactly one of 'key' or 'sha256'",
    );
  });
});

describe('loadAuthConfig', () => {
  it('refuses to start without keys unless WARREN_AUTH=none', () => {
    expect(() => loadAuthConfig({})).toThrow(/no API keys configured: set WARREN_API_KEYS/);
    expect(loadAuthConfig({ WARREN_AUTH: 'none' })).toEqual({ mode: 'none' });
    expect(() => loadAuthConfig({ WARREN_AUTH: 'none', WARREN_API_KEYS: 'a:b' })).toThrow('WARREN_AUTH=none conflicts');
    expect(() => loadAuthConfig({ WARREN_AUTH: 'maybe' })).toThrow("WARREN_AUTH must be 'keys' or 'none'");
  });

  it('merges env keys and the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-keys-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'f', key: 'from-file', routes: ['task'] }] }));
    const cfg = loadAuthConfig({ WARREN_API_KEYS: 'from-env:chat', WARREN_API_KEYS_FILE: file });
    expect(cfg.mode === 'keys' && cfg.keys.map((k) => k.name)).toEqual(['env#1', 'f']);
    expect(() => loadAuthConfig({ WARREN_API_KEYS_FILE: join(dir, 'missing.json') })).toThrow(/can't read WARREN_API_KEYS_FILE/);
  });
});

describe('authenticator', () => {
  const auth = createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('alpha-key:chat,exchange/documents;beta-key:*:admin') });

  it('matches exact keys only', () => {
    expect(auth.authenticate('alpha-key')?.name).toBe('env#1');
    expect(auth.authenticate('alpha-ke')).toBeUndefined();
    expect(auth.authenticate('alpha-key ')).toBeUndefined();
    expect(auth.authenticate('')).toBeUndefined();
  });

  it('checks grants and scopes', () => {
    const alpha = auth.authenticate('alpha-key')!;
    const beta = auth.authenticate('beta-key')!;
    expect(mayPublishRoute(alpha, 'chat')).toBe(true);
    expect(mayPublishRoute(alpha, 'task')).toBe(false);
    expect(mayPublishExchange(alpha, 'documents')).toBe(true);
    expect(mayPublishExchange(alpha, 'tasks')).toBe(false);
    expect(mayPublishExchange(beta, 'tasks')).toBe(true);
    expect(hasScope(alpha, 'admin')).toBe(false);
    expect(hasScope(beta, 'admin')).toBe(true);
  });

  it('gives each key a stable non-secret id (idempotency scope)', () => {
    const again = createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('beta-key:*;alpha-key:chat') });
    expect(again.authenticate('alpha-key')!.id).toBe(auth.authenticate('alpha-key')!.id);
    expect(auth.authenticate('alpha-key')!.id).not.toContain('alpha');
  });
});
