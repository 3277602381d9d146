import type { Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import { WarrenError } from '../../errors/index.ts';
import { ApiError, errorBody } from '../api-error.ts';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { requireScope } from '../auth/auth-middleware.ts';
import { toApiError } from '../http/to-api-error.ts';

/** The query as received: a repeated parameter becomes a list. */
function queryOf(c: Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(c.req.queries())) out[k] = v.length === 1 ? (v[0] as string) : v;
  return out;
}

/** The JSON body, or undefined when there is none (a requeue without filters). Malformed JSON is refused, never read as "no filter". */
async function optionalJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'MALFORMED_JSON', `the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

/**
 * `GET /v1/dlq/:queue` (summary + a page of messages; the queue is left as it
 * was) and `POST /v1/dlq/:queue/requeue`, behind the `admin` scope. Mounted
 * when the composition root gives the API its DLQ operations; their typed
 * errors reach the app's one error handler.
 */
export function registerDlqRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  const dlq = ctx.deps.dlq;
  if (dlq === undefined) return;
  app.use('/v1/dlq/*', requireScope('admin'));

  app.get('/v1/dlq/:queue', async (c) => c.json(await dlq.list(c.req.param('queue'), queryOf(c))));

  const groups = dlq.groups;
  if (groups !== undefined) app.get('/v1/dlq/:queue/groups', async (c) => c.json({ ...(await groups(c.req.param('queue'), queryOf(c))) }));

  const purge = dlq.purge;
  if (purge !== undefined) app.post('/v1/dlq/:queue/purge', async (c) => c.json(await purge(c.req.param('queue'), await optionalJsonBody(c), c.req.raw.signal)));

  const exportLines = dlq.export;
  if (exportLines !== undefined) {
    app.get('/v1/dlq/:queue/export', async (c) => {
      const queue = c.req.param('queue');
      const query = queryOf(c);
      // The first line is awaited before the 200 goes out, so a bad filter or an unknown queue is still a 4xx.
      const lines: string[] = [];
      let flush: ((text: string) => Promise<void>) | undefined;
      let started!: () => void;
      const ready = new Promise<void>((r) => (started = r));
      const run = exportLines(queue, query, async (line) => {
        const text = `${JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
        if (flush === undefined) {
          lines.push(text);
          started();
        } else await flush(text);
      });
      await Promise.race([ready, run]);
      c.header('content-type', 'application/x-ndjson; charset=utf-8');
      c.header('content-disposition', `attachment; filename="${encodeURIComponent(queue)}.ndjson"`);
      return stream(c, async (s) => {
        while (lines.length > 0) await s.write(lines.shift() as string);
        // Set right after the queue ran dry (no await in between), so no line is left behind.
        flush = async (text) => {
          await s.write(text);
        };
        await run;
      });
    });
  }

  app.post('/v1/dlq/:queue/requeue', async (c) => {
    const report = await dlq.requeue(c.req.param('queue'), await optionalJsonBody(c), c.req.raw.signal);
    if (report.error === undefined) return c.json(report);
    // The run stopped early: the status comes from the one error table; the body keeps the tally of what was done.
    const mapped = toApiError(new WarrenError(report.error.code, report.error.message));
    const status = mapped.status === 500 ? 503 : mapped.status;
    return c.json({ ...errorBody(new ApiError(status, report.error.code, report.error.message)), report }, status);
  });
}
