import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.ts';
import { hashApiKey, loadAuthConfig, parseApiKeysEnv, parseApiKeysFile } from './api-keys.ts';
import { ANONYMOUS, createAuthenticator, hasScope, mayPublishExchange, mayPublishRoute, mayReadJob, mayReadMetrics } from './authenticator.ts';

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

  it('takes an optional name as the fourth field (the owner recorded on its jobs)', () => {
    const keys = parseApiKeysEnv('key1:chat::app;key2:*:admin,metrics:ops;key3:task');
    expect(keys.map((k) => [k.name, [...k.scopes]])).toEqual([
      ['app', []],
      ['ops', ['admin', 'metrics']],
      ['env#3', []],
    ]);
  });

  it.each([
    ['nokey', "WARREN_API_KEYS entry #1 must look like 'key:route1,route2' or 'key:*:admin:name' (key, routes, optional scopes and name separated by ':')"],
    ['a:b:c:d:e', "WARREN_API_KEYS entry #1 must look like 'key:route1,route2' or 'key:*:admin:name' (key, routes, optional scopes and name separated by ':')"],
    ['ok:chat;bad key:chat', 'WARREN_API_KEYS entry #2: the key is empty or has spaces / non-ASCII characters'],
    ['k:', "WARREN_API_KEYS entry #1: list the routes it may publish to, or '*'"],
    ['k:chat:read_all', "WARREN_API_KEYS entry #1: unknown scope 'read_all'; known: admin, read-all, metrics, *"],
    ['k:chat::no spaces', 'WARREN_API_KEYS entry #1: the name must be 1-100 letters, digits, . _ @ -'],
    ['k1:chat::app;k2:task::app', "two API keys are named 'app'; names must be unique (a key reads the jobs recorded under its name)"],
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
    expect(() => loadAuthConfig(loadConfig({}))).toThrow(/no API keys configured: set WARREN_API_KEYS/);
    expect(loadAuthConfig(loadConfig({ WARREN_AUTH: 'none' }))).toEqual({ mode: 'none' });
    expect(() => loadAuthConfig(loadConfig({ WARREN_AUTH: 'none', WARREN_API_KEYS: 'a:b' }))).toThrow('WARREN_AUTH=none conflicts');
    expect(() => loadAuthConfig(loadConfig({ WARREN_AUTH: 'maybe' }))).toThrow("WARREN_AUTH must be one of keys, none, got 'maybe'");
  });

  it('merges env keys and the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-keys-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ name: 'f', key: 'from-file', routes: ['task'] }] }));
    const cfg = loadAuthConfig(loadConfig({ WARREN_API_KEYS: 'from-env:chat', WARREN_API_KEYS_FILE: file }));
    expect(cfg.mode === 'keys' && cfg.keys.map((k) => k.name)).toEqual(['env#1', 'f']);
    expect(() => loadAuthConfig(loadConfig({ WARREN_API_KEYS_FILE: join(dir, 'missing.json') }))).toThrow(/can't read WARREN_API_KEYS_FILE/);
  });

  it('refuses a name used by an env key and a file key alike, and unknown scopes in the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-keys-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'keys:\n  - { name: app, key: from-file, routes: [task] }\n');
    expect(() => loadAuthConfig(loadConfig({ WARREN_API_KEYS: 'from-env:chat::app', WARREN_API_KEYS_FILE: file }))).toThrow("two API keys are named 'app'");
    expect(() => parseApiKeysFile('keys:\n  - { key: k, routes: [task], scopes: [root] }\n', 'k.yaml')).toThrow("API keys file k.yaml: keys.0.scopes: unknown scope 'root'");
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

  it('reads a job only when it is the key\'s own, or with read-all / admin (admin implies read-all and metrics)', () => {
    const keys = createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('a-key:chat::a;b-key:chat::b;reader-key:task:read-all:r;ops-key:task:admin:ops;prom-key:task:metrics:prom') });
    const [a, b, reader, ops, prom] = ['a-key', 'b-key', 'reader-key', 'ops-key', 'prom-key'].map((k) => keys.authenticate(k)!);
    expect(mayReadJob(a!, 'a')).toBe(true);
    expect(mayReadJob(b!, 'a')).toBe(false);
    expect(mayReadJob(a!, undefined)).toBe(false);
    expect([reader, ops].map((p) => mayReadJob(p!, 'a') && mayReadJob(p!, undefined))).toEqual([true, true]);
    expect(mayReadJob(prom!, 'a')).toBe(false);
    expect([a, reader, ops, prom].map((p) => mayReadMetrics(p!))).toEqual([false, false, true, true]);
    expect(mayReadJob(ANONYMOUS, 'a') && mayReadMetrics(ANONYMOUS)).toBe(true);
  });

  it('gives each key a stable non-secret id (idempotency scope)', () => {
    const again = createAuthenticator({ mode: 'keys', keys: parseApiKeysEnv('beta-key:*;alpha-key:chat') });
    expect(again.authenticate('alpha-key')!.id).toBe(auth.authenticate('alpha-key')!.id);
    expect(auth.authenticate('alpha-key')!.id).not.toContain('alpha');
  });
});
