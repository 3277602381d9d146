import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';

/** /healthz (the process answers) and /readyz (broker connected, publish channel open, topology applied, status index caught up, job-events stream there). Both open. */
export function registerHealthRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const { deps } = ctx;
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200));
  app.get('/readyz', (c) => {
    const history = deps.history?.state();
    const checks = {
      broker: deps.isBrokerConnected(),
      publisher: deps.publisher.isReady(),
      topology: deps.isTopologyApplied(),
      statusIndex: deps.index.isCaughtUp(),
      // The job-events stream itself: a deleted stream fails readiness at once (the topology probe rechecks only every 30 s).
      ...(history === undefined ? {} : { jobEventsStream: history.stream }),
    };
    const failing = Object.entries(checks).filter(([, ok]) => !ok).map(([name]) => name);
    // Informational: a replica indexing old history, or without checkpoints, still serves everything else.
    const info = history === undefined ? {} : { history: { indexed: history.indexed, checkpoints: history.checkpoints } };
    if (failing.length === 0) return c.json({ status: 'ready', checks, ...info }, 200);
    return c.json({ error: { code: 'NOT_READY', message: `not ready: ${failing.join(', ')}`, details: { ...checks, ...info } } }, 503);
  });
}
