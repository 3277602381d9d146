import * as nodeCrypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { WarrenConfig } from '../../config/env-settings.ts';
import { WarrenError } from '../../errors/index.ts';

/** Grant that allows every route and exchange, or every scope. */
export const ALL = '*';

/**
 * Scopes a key may hold, beyond its publish grants:
 * - `admin`: the DLQ endpoints; implies `read-all` and `metrics`;
 * - `read-all`: read every key's jobs (status, `?wait`, SSE), not only its own;
 * - `metrics`: `GET /metrics`.
 */
export const SCOPES = ['admin', 'read-all', 'metrics'] as const;
const KNOWN_SCOPES: ReadonlySet<string> = new Set([...SCOPES, ALL]);

/** One configured API key. The key itself is never kept, only its SHA-256. */
export interface ApiKeyEntry {
  /**
   * Shown in logs instead of the key, and the owner recorded on every job the
   * key submits (a key reads only jobs recorded under its name): keep it
   * stable. Unique among the configured keys.
   */
  name: string;
  /** SHA-256 of the key (32 bytes). */
  keyHash: Buffer;
  /** Route names it may publish to; `*` for all; `exchange/<name>` for POST /v1/publish/<name>. */
  grants: ReadonlySet<string>;
  /** Extra permissions, e.g. `admin` for the DLQ endpoints; `*` for all. */
  scopes: ReadonlySet<string>;
}

/** How the API authenticates: with keys, or explicitly not at all (`WARREN_AUTH=none`). */
export type AuthConfig = { mode: 'keys'; keys: ApiKeyEntry[] } | { mode: 'none' };

// crypto.hash (Node >= 20.12) is a one-shot digest, about 3x cheaper than a createHash object per request.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

/** SHA-256 of a key, the only form warren keeps in memory (and what every presented key is hashed to before comparing). */
export function hashApiKey(key: string): Buffer {
  return oneShot !== undefined ? oneShot('sha256', key, 'buffer') : nodeCrypto.createHash('sha256').update(key, 'utf8').digest();
}

const KEY_RE = /^[\x21-\x7e]+$/;
const NAME_RE = /^[\w.@-]{1,100}$/;

function authError(message: string): WarrenError {
  return new WarrenError('AUTH_CONFIG_INVALID', message);
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function checkScopes(scopes: readonly string[], where: string): void {
  const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
  if (unknown.length > 0) throw authError(`${where}: unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; known: ${[...SCOPES, ALL].join(', ')}`);
}

/** Refuses two keys with one name: they would read each other's jobs. */
function checkUniqueNames(keys: readonly ApiKeyEntry[]): void {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.name)) throw authError(`two API keys are named '${k.name}'; names must be unique (a key reads the jobs recorded under its name)`);
    seen.add(k.name);
  }
}

/**
 * Parses `WARREN_API_KEYS`: entries separated by `;`, each
 * `key:grants[:scopes[:name]]` with comma-separated lists, e.g.
 * `k1:chat,task::app;k2:*;admin-key:*:admin:ops`. Without a name a key is
 * named `env#<position>`. Messages name the entry by position, never by its key.
 */
export function parseApiKeysEnv(value: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const parts = value.split(';').map((s) => s.trim()).filter((s) => s !== '');
  parts.forEach((part, i) => {
    const fields = part.split(':');
    if (fields.length < 2 || fields.length > 4) {
      throw authError(`WARREN_API_KEYS entry #${i + 1} must look like 'key:route1,route2' or 'key:*:admin:name' (key, routes, optional scopes and name separated by ':')`);
    }
    const [key = '', grants = '', scopes = '', name = ''] = fields;
    if (!KEY_RE.test(key)) throw authError(`WARREN_API_KEYS entry #${i + 1}: the key is empty or has spaces / non-ASCII characters`);
    const grantList = splitList(grants);
    if (grantList.length === 0) throw authError(`WARREN_API_KEYS entry #${i + 1}: list the routes it may publish to, or '*'`);
    const scopeList = splitList(scopes);
    checkScopes(scopeList, `WARREN_API_KEYS entry #${i + 1}`);
    if (fields.length === 4 && !NAME_RE.test(name.trim())) throw authError(`WARREN_API_KEYS entry #${i + 1}: the name must be 1-100 letters, digits, . _ @ -`);
    entries.push({ name: fields.length === 4 ? name.trim() : `env#${i + 1}`, keyHash: hashApiKey(key), grants: new Set(grantList), scopes: new Set(scopeList) });
  });
  checkUniqueNames(entries);
  return entries;
}

const fileSchema = z
  .object({
    keys: z
      .array(
        z
          .object({
            /** Shown in logs. */
            name: z.string().regex(NAME_RE, 'use letters, digits, . _ @ -').optional(),
            /** The key itself... */
            key: z.string().regex(KEY_RE, 'printable ASCII without spaces').optional(),
            /** ...or its SHA-256 in hex, so the file holds no secret. */
            sha256: z.string().regex(/^[0-9a-f]{64}$/i, '64 hex characters').optional(),
            routes: z.array(z.string().min(1)).min(1),
            scopes: z.array(z.string().min(1)).default([]),
          })
          .strict()
          .refine((k) => (k.key === undefined) !== (k.sha256 === undefined), { message: "give exactly one of 'key' or 'sha256'" }),
      )
      .min(1),
  })
  .strict();

/** Parses a keys file (JSON or YAML): `{keys: [{name, key | sha256, routes: [...], scopes: [...]}]}`. */
export function parseApiKeysFile(text: string, file: string): ApiKeyEntry[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw authError(`API keys file ${file} is neither valid JSON nor YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw authError(`API keys file ${file} is invalid: ${problems}`);
  }
  const keys = parsed.data.keys.map((k, i) => {
    checkScopes(k.scopes, `API keys file ${file}: keys.${i}.scopes`);
    return {
      name: k.name ?? `file#${i + 1}`,
      keyHash: k.sha256 !== undefined ? Buffer.from(k.sha256, 'hex') : hashApiKey(k.key as string),
      grants: new Set(k.routes),
      scopes: new Set(k.scopes),
    };
  });
  checkUniqueNames(keys);
  return keys;
}

/** The settings {@link loadAuthConfig} reads (loaded from WARREN_API_KEYS, WARREN_API_KEYS_FILE and WARREN_AUTH by src/config). */
export type AuthSettings = Pick<WarrenConfig, 'apiKeys' | 'apiKeysFile' | 'auth'>;

/**
 * The API's auth settings: keys from `WARREN_API_KEYS` and/or
 * `WARREN_API_KEYS_FILE`. With neither, the API refuses to start unless
 * `WARREN_AUTH=none` says, explicitly, that it should run without keys.
 */
export function loadAuthConfig(settings: AuthSettings): AuthConfig {
  const keys: ApiKeyEntry[] = [];
  const inline = settings.apiKeys?.trim();
  if (inline) keys.push(...parseApiKeysEnv(inline));
  const file = settings.apiKeysFile?.trim();
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw authError(`can't read WARREN_API_KEYS_FILE ${file}: ${(err as Error).message}`);
    }
    keys.push(...parseApiKeysFile(text, file));
  }
  checkUniqueNames(keys);
  if (settings.auth === 'none') {
    if (keys.length > 0) throw authError('WARREN_AUTH=none conflicts with the API keys that are configured; remove one of them');
    return { mode: 'none' };
  }
  if (keys.length === 0) {
    throw new WarrenError(
      'AUTH_NOT_CONFIGURED',
      'no API keys configured: set WARREN_API_KEYS (e.g. "my-key:chat,task;admin-key:*:admin") or WARREN_API_KEYS_FILE, ' +
        'or set WARREN_AUTH=none to run without authentication (only for a local, trusted network)',
    );
  }
  return { mode: 'keys', keys };
}
