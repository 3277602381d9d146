import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';

/** /healthz (the process answers) and /readyz (broker connected, publish channel open, topology applied, status index caught up). Both open. */
export function registerHealthRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { deps } = ctx;
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200));
  app.get('/readyz', (c) => {
    const checks = {
      broker: deps.isBrokerConnected(),
      publisher: deps.publisher.isReady(),
      topology: deps.isTopologyApplied(),
      statusIndex: deps.index.isCaughtUp(),
    };
    const failing = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
    if (failing.length === 0) return c.json({ status: 'ready', checks }, 200);
    return c.json({ error: { code: 'NOT_READY', message: `not ready: ${failing.join(', ')}`, details: checks } }, 503);
  });
}
