import type { ServerOptions } from 'node:http';
import type { WarrenConfig } from '../../config/env-settings.ts';
import { WarrenError } from '../../errors/index.ts';

/**
 * The API server's connection timers. Behind a load balancer the balancer must
 * be the one that closes an idle keep-alive connection: if warren closes it
 * first (Node's default is 5 s, balancers keep 60 s and more), a request the
 * balancer sends on it at that moment is cut with no HTTP answer. So the
 * keep-alive timeout stays above the balancer's idle timeout, and the headers
 * timeout above the keep-alive timeout (Node also closes on that timer).
 */
export interface ServerTimeouts {
  /** Idle keep-alive connection lifetime. @default 65 s (WARREN_API_KEEP_ALIVE_TIMEOUT) */
  keepAliveTimeoutMs: number;
  /** Time to receive a request's headers. @default 66 s (WARREN_API_HEADERS_TIMEOUT) */
  headersTimeoutMs: number;
  /** Time to receive a whole request; 0: none. @default 5 min (WARREN_API_REQUEST_TIMEOUT) */
  requestTimeoutMs: number;
}

/** The timeouts from the loaded configuration, checked against each other. */
export function serverTimeoutsFromConfig(config: Pick<WarrenConfig, 'apiKeepAliveTimeout' | 'apiHeadersTimeout' | 'apiRequestTimeout'>): ServerTimeouts {
  const t = { keepAliveTimeoutMs: config.apiKeepAliveTimeout, headersTimeoutMs: config.apiHeadersTimeout, requestTimeoutMs: config.apiRequestTimeout };
  checkServerTimeouts(t);
  return t;
}

/** Throws CONFIG_INVALID when the timers contradict each other. */
export function checkServerTimeouts(t: ServerTimeouts): void {
  if (t.keepAliveTimeoutMs < 1) throw new WarrenError('CONFIG_INVALID', 'WARREN_API_KEEP_ALIVE_TIMEOUT must be at least 1ms');
  if (t.headersTimeoutMs <= t.keepAliveTimeoutMs) {
    throw new WarrenError('CONFIG_INVALID', `WARREN_API_HEADERS_TIMEOUT (${t.headersTimeoutMs}ms) must be above WARREN_API_KEEP_ALIVE_TIMEOUT (${t.keepAliveTimeoutMs}ms)`);
  }
  if (t.requestTimeoutMs !== 0 && t.requestTimeoutMs < t.headersTimeoutMs) {
    throw new WarrenError('CONFIG_INVALID', `WARREN_API_REQUEST_TIMEOUT (${t.requestTimeoutMs}ms) must be 0 or at least WARREN_API_HEADERS_TIMEOUT (${t.headersTimeoutMs}ms)`);
  }
}

/** `http.createServer` options that apply the timers (checked often enough for short test values). */
export function serverTimeoutOptions(t: ServerTimeouts): ServerOptions {
  return {
    keepAliveTimeout: t.keepAliveTimeoutMs,
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    // Node checks headers / request timers on this interval (30 s by default).
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(t.headersTimeoutMs / 2))),
  };
}
