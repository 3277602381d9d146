import { timingSafeEqual } from 'node:crypto';
import { ALL, hashApiKey, type ApiKeyEntry, type AuthConfig } from './api-keys.ts';

/** Who is calling: the matched key's name, grants and scopes. */
export interface Principal {
  name: string;
  /** Stable, non-secret id of the key (prefix of its hash); scopes idempotency keys per caller. */
  id: string;
  grants: ReadonlySet<string>;
  scopes: ReadonlySet<string>;
}

/** The principal used when `WARREN_AUTH=none`: may do everything. */
export const ANONYMOUS: Principal = { name: 'anonymous', id: 'anonymous', grants: new Set([ALL]), scopes: new Set([ALL]) };

/** Checks bearer tokens against the configured keys. */
export interface Authenticator {
  /** True when the API runs without keys. */
  readonly open: boolean;
  /** The principal for a presented key, or undefined. Takes the same time whichever key (if any) matches. */
  authenticate(token: string): Principal | undefined;
}

/** Creates the authenticator; compares SHA-256 digests with timingSafeEqual against every key, without an early exit. */
export function createAuthenticator(config: AuthConfig): Authenticator {
  if (config.mode === 'none') return { open: true, authenticate: () => ANONYMOUS };
  const entries = config.keys.map((k: ApiKeyEntry) => ({
    hash: k.keyHash,
    principal: { name: k.name, id: k.keyHash.subarray(0, 8).toString('hex'), grants: k.grants, scopes: k.scopes } satisfies Principal,
  }));
  return {
    open: false,
    authenticate(token) {
      // Hashing first makes every comparison 32 bytes long whatever the token's length.
      const presented = hashApiKey(token);
      let found: Principal | undefined;
      for (const e of entries) {
        if (timingSafeEqual(presented, e.hash) && found === undefined) found = e.principal;
      }
      return found;
    },
  };
}

/** True when the principal may publish to the route. */
export function mayPublishRoute(p: Principal, route: string): boolean {
  return p.grants.has(ALL) || p.grants.has(route);
}

/** True when the principal may publish raw messages to the exchange. */
export function mayPublishExchange(p: Principal, exchange: string): boolean {
  return p.grants.has(ALL) || p.grants.has(`exchange/${exchange}`);
}

/** True when the principal holds the scope. */
export function hasScope(p: Principal, scope: string): boolean {
  return p.scopes.has(ALL) || p.scopes.has(scope);
}

/** True when the principal reads every key's jobs: `read-all`, or `admin` which implies it. */
export function mayReadAllJobs(p: Principal): boolean {
  return hasScope(p, 'read-all') || hasScope(p, 'admin');
}

/**
 * True when the principal may read a job submitted by `owner` (a key's name;
 * undefined for a job whose `queued` event the index never saw, e.g. written
 * before owners were recorded, or published to the broker directly): its own
 * jobs, or any job with `read-all` / `admin`.
 */
export function mayReadJob(p: Principal, owner: string | undefined): boolean {
  return (owner !== undefined && owner === p.name) || mayReadAllJobs(p);
}

/** True when the principal may scrape `GET /metrics`: the `metrics` scope, or `admin`. */
export function mayReadMetrics(p: Principal): boolean {
  return hasScope(p, 'metrics') || hasScope(p, 'admin');
}
