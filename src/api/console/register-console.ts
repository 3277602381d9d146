import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { html } from 'hono/html';
import type { z } from 'zod';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { hasScope, mayReadJob } from '../auth/authenticator.ts';
import type { dlqGroupsSchema, dlqListingSchema, dlqPurgeReportSchema, dlqRequeueReportSchema } from '../openapi/api-schemas.ts';
import type { JobStatusView } from '../status/job-status.ts';
import { createConsoleApi } from './console-api.ts';
import { layout, qs, type ConsoleSection, type Html } from './console-html.ts';
import { CONSOLE_JS } from './console-script.ts';
import { endSession, isSameOriginRequest, isSameSiteAction, sessionOf, startSession, type ConsoleSession } from './console-session.ts';
import { CONSOLE_CSS } from './console-style.ts';
import { dlqGroupsPage, dlqIndexPage, dlqMessagePage, dlqMessagesPage } from './dlq-pages.ts';
import { jobPage, jobPanel, jobsPage, type JobFilters, type JobRow } from './jobs-pages.ts';
import type { PayloadView } from './job-payload-section.ts';
import { PAYLOAD_HEADERS } from '../routes/job-status.ts';
import { overviewPage, type OverviewData } from './overview-page.ts';
import { topologyPage } from './topology-page.ts';

type Groups = z.input<typeof dlqGroupsSchema>;
type Listing = z.input<typeof dlqListingSchema>;
type RequeueReport = z.input<typeof dlqRequeueReportSchema>;
type PurgeReport = z.input<typeof dlqPurgeReportSchema>;

interface ConsoleEnv {
  Variables: { session: ConsoleSession };
}

/** No inline script or style, nothing from elsewhere, no framing: a payload that slips through escaping still cannot run. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** Largest action body the console reads (a selection of ids). */
const MAX_ACTION_BYTES = 256 * 1024;

function errText(e: { code: string; message: string }): string {
  return `${e.code}: ${e.message}`;
}

/**
 * The operator console under /console: server-rendered pages (hono/html, which
 * escapes every value it interpolates) over the JSON API, called in-process
 * with the signed-in key, so the console shows a key exactly what the API
 * would. Its own routes live in a sub-app mounted in one place by createApp.
 */
export function createConsole(ctx: AppContext, fetchApi: (path: string, init: RequestInit) => Response | Promise<Response>): Hono<ConsoleEnv> {
  const { deps } = ctx;
  const api = createConsoleApi(fetchApi);
  const broker = deps.console;
  const topology = broker?.topology;
  const routeNames = Object.keys(deps.topology.routes).sort();
  const app = new Hono<ConsoleEnv>();

  // Only under /console: a catch-all here would be matched (and named in metrics) for every API request too.
  const securityHeaders: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
    await next();
    c.header('content-security-policy', CSP);
    c.header('x-content-type-options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts, and the origin checks need it.
    c.header('referrer-policy', 'same-origin');
    if (!c.req.path.startsWith('/console/assets/')) c.header('cache-control', 'no-store');
  };
  app.use('/console', securityHeaders);
  app.use('/console/*', securityHeaders);

  app.onError((err, c) => {
    deps.logger.error({ err: { name: err.name, message: err.message }, path: c.req.path }, 'console request failed');
    return c.html(layout({ title: 'Error' }, html`<div class="banner" role="alert">Something went wrong: ${err.message.slice(0, 300)}</div><p><a href="/console">Back</a></p>`), 500);
  });

  app.get('/console/assets/console.css', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.body(CONSOLE_CSS, 200, { 'content-type': 'text/css; charset=utf-8' });
  });
  app.get('/console/assets/console.js', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.body(CONSOLE_JS, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });

  const loginPage = (c: Context, message?: string, status: 200 | 401 = 200) =>
    c.html(
      layout(
        { title: 'Log in' },
        html`<form class="card login" method="post" action="/console/login">
<h1>warren console</h1>
<p class="muted">Log in with an API key. It is kept in an HttpOnly, SameSite=Strict cookie for this site only, never in a URL.</p>
${message === undefined ? '' : html`<p class="result err" role="alert">${message}</p>`}
<label>API key<input type="password" name="key" autocomplete="current-password" required autofocus></label>
<button type="submit" class="primary">Log in</button>
</form>`,
      ),
      status,
    );

  // Every console POST is small (a key, a selection of ids): bounded before it is read.
  app.post('/console/*', bodyLimit({ maxSize: MAX_ACTION_BYTES, onError: (c) => c.json({ error: { code: 'PAYLOAD_TOO_LARGE', message: `a console request is at most ${MAX_ACTION_BYTES} bytes`, details: null } }, 413) }));

  app.get('/console/login', (c) => loginPage(c));
  app.post('/console/login', async (c) => {
    // Another site must not log the browser in with a key of its choosing.
    if (!isSameOriginRequest(c)) return loginPage(c, 'Refused: the form was not sent from this site.', 401);
    const form = await c.req.parseBody();
    const key = typeof form['key'] === 'string' ? form['key'].trim() : '';
    if (!deps.auth.open && (key === '' || key.length > 1024 || deps.auth.authenticate(key) === undefined)) return loginPage(c, 'That key is not valid.', 401);
    if (!deps.auth.open) startSession(c, key);
    return c.redirect('/console', 303);
  });

  // Everything below needs a session; pages send a browser to the login form, actions get a JSON 401.
  app.use('/console/*', async (c, next) => {
    if (c.req.path === '/console/login' || c.req.path.startsWith('/console/assets/')) return next();
    const session = sessionOf(c, deps.auth);
    if (session === undefined) {
      if (c.req.method === 'GET' && !c.req.path.endsWith('/events')) return c.redirect('/console/login', 303);
      return c.json({ error: { code: 'UNAUTHENTICATED', message: 'log in to the console first', details: null } }, 401);
    }
    c.set('session', session);
    return next();
  });
  app.use('/console', async (c, next) => {
    const session = sessionOf(c, deps.auth);
    if (session === undefined) return c.redirect('/console/login', 303);
    c.set('session', session);
    return next();
  });

  app.post('/console/logout', async (c) => {
    const form = await c.req.parseBody();
    // A logout form carries the CSRF token too, so another site cannot sign the operator out.
    if (form['csrf'] !== c.get('session').csrf) return c.text('refused: not sent from a console page', 403);
    endSession(c);
    return c.redirect('/console/login', 303);
  });

  const banners = (): string[] => (deps.isBrokerConnected() ? [] : ['The broker is unreachable: figures may be missing or stale, and actions will fail until it is back.']);
  const page = (c: Context<ConsoleEnv>, section: ConsoleSection | undefined, title: string, content: Html, status: 200 | 403 | 404 | 503 = 200, extra: string[] = []) => {
    const s = c.get('session');
    return c.html(layout({ title, ...(section === undefined ? {} : { section }), who: s.principal.name, csrf: s.csrf, banners: [...banners(), ...extra] }, content), status);
  };
  const isAdmin = (s: ConsoleSession) => hasScope(s.principal, 'admin');

  // ---- overview
  app.get('/console', async (c) => {
    const session = c.get('session');
    const now = Date.now();
    const lastHour: Record<string, number> = {};
    for (const r of deps.index.records()) {
      if (now - Date.parse(r.updatedAt) > 3_600_000 || !mayReadJob(session.principal, r.owner)) continue;
      lastHour[r.status] = (lastHour[r.status] ?? 0) + 1;
    }
    const settle = async <T>(p: Promise<T> | undefined, what: string): Promise<T | { error: string }> => {
      if (p === undefined) return { error: `${what} not wired in this process` };
      try {
        return await p;
      } catch (err) {
        return { error: (err as Error).message.slice(0, 300) };
      }
    };
    const dlqQueues = deps.dlq?.queues?.() ?? [];
    const deadLetters = async (): Promise<OverviewData['deadLetters']> => {
      if (!isAdmin(session) || deps.dlq === undefined) return undefined;
      const out: { queue: string; byReason: Record<string, number>; total: number; scannedAt?: string }[] = [];
      for (const q of dlqQueues) {
        // The last count will do here: an overview must not hold the DLQ (an exclusive read) on every view.
        const r = await api.json<Groups>(session, `/v1/dlq/${encodeURIComponent(q)}/groups?stale=true`);
        if (!r.ok) return { error: errText(r.error) };
        const byReason: Record<string, number> = {};
        for (const g of r.body.groups) byReason[g.reason] = (byReason[g.reason] ?? 0) + g.count;
        out.push({ queue: q, byReason, total: r.body.matched, ...(r.body.scannedAt === undefined ? {} : { scannedAt: r.body.scannedAt }) });
      }
      return out;
    };
    const [queues, drift, dead] = await Promise.all([settle(broker?.queues(), 'the management API'), settle(broker?.drift(), 'the management API'), deadLetters()]);
    const data: OverviewData = {
      queues,
      drift,
      lastHour,
      deadLetters: dead,
      routes: Object.entries(deps.topology.routes).map(([name, r]) => ({ name, exchange: r.exchange, routingKey: r.routingKey })),
    };
    return page(c, 'overview', 'Overview', overviewPage(data));
  });

  // ---- jobs
  app.get('/console/jobs', async (c) => {
    const f: JobFilters = {};
    for (const k of ['route', 'status', 'queue', 'idPrefix', 'after', 'before', 'limit'] as const) {
      const v = c.req.query(k);
      if (v !== undefined && v !== '') f[k] = v.slice(0, 300);
    }
    const r = await api.json<{ jobs: JobRow[]; next?: string }>(c.get('session'), `/v1/jobs${qs({ ...f, limit: f.limit ?? '50' })}`);
    return page(c, 'jobs', 'Jobs', jobsPage(f, r.ok ? r.body : { error: errText(r.error) }, routeNames, Date.now()), r.ok ? 200 : r.status === 503 ? 503 : 200);
  });

  const jobPath = (c: Context) => `/v1/jobs/${encodeURIComponent(c.req.param('id') ?? '')}`;
  /** The job's stored payload, through GET /v1/jobs/{id}/payload (the same key, the same rules). */
  const payloadOf = async (c: Context<ConsoleEnv>): Promise<PayloadView> => {
    const res = await api.request(c.get('session'), `${jobPath(c)}/payload`);
    const text = await res.text();
    if (res.ok) {
      return {
        stored: true,
        text,
        storedBytes: Buffer.byteLength(text, 'utf8'),
        totalBytes: Number(res.headers.get(PAYLOAD_HEADERS.bytes) ?? Buffer.byteLength(text, 'utf8')),
        truncated: res.headers.get(PAYLOAD_HEADERS.truncated) === 'true',
      };
    }
    let e: { code?: unknown; message?: unknown } | undefined;
    try {
      e = (JSON.parse(text) as { error?: typeof e }).error;
    } catch {
      e = undefined;
    }
    return { stored: false, code: typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`, message: typeof e?.message === 'string' ? e.message : 'the payload could not be read' };
  };
  app.get('/console/jobs/:id', async (c) => {
    const r = await api.json<JobStatusView>(c.get('session'), jobPath(c));
    if (!r.ok) return page(c, 'jobs', 'Job', html`<h1>Job <code>${c.req.param('id')}</code></h1><div class="banner" role="alert">${errText(r.error)}</div>`, r.status === 404 ? 404 : r.status === 503 ? 503 : 200);
    return page(c, 'jobs', `Job ${r.body.id}`, jobPage(r.body, await payloadOf(c), Date.now()));
  });
  // The stored payload as a download, as the API serves it (its type, size and cut headers, attachment).
  app.get('/console/jobs/:id/payload', async (c) => api.request(c.get('session'), `${jobPath(c)}/payload`));
  app.get('/console/jobs/:id/panel', async (c) => {
    const r = await api.json<JobStatusView>(c.get('session'), jobPath(c));
    if (!r.ok) return c.html(html`<div class="banner" role="alert">${errText(r.error)}</div>`, r.status === 404 ? 404 : 200);
    return c.html(jobPanel(r.body, Date.now()));
  });
  app.get('/console/jobs/:id/raw', async (c) => {
    const res = await api.request(c.get('session'), jobPath(c));
    return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json; charset=utf-8', 'content-disposition': 'inline' } });
  });
  // The job's SSE stream, as the API serves it (same per-key stream slots and rules).
  app.get('/console/jobs/:id/events', async (c) => api.request(c.get('session'), `${jobPath(c)}/events`, { signal: c.req.raw.signal }));

  // ---- dead letters
  const noDlq = (c: Context<ConsoleEnv>) => page(c, 'dlq', 'Dead letters', html`<h1>Dead letters</h1><div class="note">This API process does not serve the DLQ operations (start it with <code>warren start</code>).</div>`);
  const qPath = (c: Context) => `/v1/dlq/${encodeURIComponent(c.req.param('queue') ?? '')}`;
  const dlqError = (c: Context<ConsoleEnv>, e: { code: string; message: string }, status: number) =>
    page(c, 'dlq', 'Dead letters', html`<h1>Dead letters</h1><div class="banner" role="alert">${errText(e)}</div>`, status === 403 ? 403 : status === 404 ? 404 : status >= 500 ? 503 : 200);

  app.get('/console/dlq', async (c) => {
    if (deps.dlq === undefined) return noDlq(c);
    if (!isAdmin(c.get('session'))) return dlqError(c, { code: 'FORBIDDEN', message: "dead letters hold every tenant's payloads: this key lacks the 'admin' scope" }, 403);
    const names = deps.dlq.queues?.() ?? [];
    let depth = new Map<string, number>();
    try {
      depth = new Map((await broker?.queues())?.map((q) => [q.name, q.messages]) ?? []);
    } catch {
      // Depth is a nicety; the page still lists the queues.
    }
    return page(c, 'dlq', 'Dead letters', dlqIndexPage(names.map((name) => ({ name, messages: depth.get(name) }))));
  });

  app.get('/console/dlq/:queue', async (c) => {
    if (deps.dlq === undefined) return noDlq(c);
    const session = c.get('session');
    const r = await api.json<Groups>(session, `${qPath(c)}/groups${c.req.query('fresh') === '1' ? '?fresh=true' : ''}`);
    if (!r.ok) return dlqError(c, r.error, r.status);
    return page(c, 'dlq', `Dead letters in ${c.req.param('queue')}`, dlqGroupsPage(c.req.param('queue'), r.body, routeNames, isAdmin(session), Date.now()));
  });

  app.get('/console/dlq/:queue/messages', async (c) => {
    if (deps.dlq === undefined) return noDlq(c);
    const session = c.get('session');
    const group = c.req.query('group');
    const offset = Number(c.req.query('offset') ?? '0');
    const r = await api.json<Listing>(session, `${qPath(c)}${qs({ group, offset: Number.isInteger(offset) && offset >= 0 ? offset : 0, pageSize: 50 })}`);
    if (!r.ok) return dlqError(c, r.error, r.status);
    return page(c, 'dlq', `Dead letters in ${c.req.param('queue')}`, dlqMessagesPage(c.req.param('queue'), r.body, group, routeNames, isAdmin(session), Date.now()));
  });

  app.get('/console/dlq/:queue/message', async (c) => {
    if (deps.dlq === undefined) return noDlq(c);
    const id = (c.req.query('id') ?? '').slice(0, 300);
    const res = await api.request(c.get('session'), `${qPath(c)}/export${qs({ id, limit: 1 })}`);
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
      return dlqError(c, body.error ?? { code: `HTTP_${res.status}`, message: 'export failed' }, res.status);
    }
    const first = (await res.text()).split('\n').find((l) => l !== '');
    return page(c, 'dlq', `Dead letter ${id}`, dlqMessagePage(c.req.param('queue'), first === undefined ? undefined : (JSON.parse(first) as Record<string, unknown>), id));
  });

  app.get('/console/dlq/:queue/export', async (c) => {
    const query: Record<string, string> = {};
    for (const k of ['group', 'id', 'origin', 'reason', 'errorClass', 'route', 'since', 'before', 'limit']) {
      const v = c.req.query(k);
      if (v !== undefined && v !== '') query[k] = v.slice(0, 2000);
    }
    const res = await api.request(c.get('session'), `${qPath(c)}/export${qs(query)}`, { signal: c.req.raw.signal });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });

  /** Reads an action's JSON body (bounded) after the CSRF check; refusals are JSON for the page's script. */
  async function actionBody(c: Context<ConsoleEnv>): Promise<Record<string, unknown> | Response> {
    if (!isSameSiteAction(c, c.get('session'))) return c.json({ error: { code: 'CSRF_REFUSED', message: 'refused: this action was not sent from a console page', details: null } }, 403);
    const text = await c.req.text();
    if (text.length > MAX_ACTION_BYTES) return c.json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'selection too large', details: null } }, 413);
    try {
      const v = JSON.parse(text) as unknown;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // falls through
    }
    return c.json({ error: { code: 'MALFORMED_JSON', message: 'the action body is not a JSON object', details: null } }, 400);
  }

  /** The selection of an action: a group or message ids, nothing else (never a whole queue by accident). */
  function selection(body: Record<string, unknown>): { group?: string[]; id?: string[] } | undefined {
    const ids = Array.isArray(body['id']) ? body['id'].filter((v): v is string => typeof v === 'string' && v !== '').slice(0, 5_000) : [];
    if (typeof body['group'] === 'string' && body['group'] !== '') return { group: [body['group']] };
    if (ids.length > 0) return { id: ids };
    return undefined;
  }

  const goneNote = (expected: unknown, found: number): { gone: number; note: string } => {
    const gone = typeof expected === 'number' && expected > found ? expected - found : 0;
    return { gone, note: gone > 0 ? ` ${gone} of the ${expected as number} counted in the dry run were gone (moved or purged by someone else meanwhile); nothing was moved twice.` : '' };
  };

  app.post('/console/dlq/:queue/requeue', async (c) => {
    const body = await actionBody(c);
    if (body instanceof Response) return body;
    const sel = selection(body);
    if (sel === undefined) return c.json({ error: { code: 'NO_SELECTION', message: 'choose a group or messages', details: null } }, 400);
    const dryRun = body['dryRun'] !== false;
    const toRoute = typeof body['toRoute'] === 'string' && body['toRoute'] !== '' ? body['toRoute'] : undefined;
    const r = await api.json<RequeueReport>(c.get('session'), `${qPath(c)}/requeue`, { method: 'POST', body: { ...sel, dryRun, ...(toRoute === undefined ? {} : { toRoute }) }, signal: c.req.raw.signal });
    if (!r.ok) return c.json({ error: r.error }, r.status as 400);
    const rep = r.body;
    const dest = Object.entries(rep.destinations).map(([d, n]) => `${d}: ${n}`).join(', ');
    const skipped = `${rep.skipped.capped} over the requeue cap, ${rep.skipped.unknownOrigin} without a known origin`;
    if (dryRun) return c.json({ count: rep.moved, summary: `Dry run: would requeue ${rep.moved}${dest === '' ? '' : ` (${dest})`}; would skip ${skipped}.`, report: rep });
    const { gone, note } = goneNote(body['expected'], rep.selected);
    return c.json({
      count: rep.moved,
      gone,
      summary: `Requeued ${rep.moved}${dest === '' ? '' : ` (${dest})`}; skipped ${skipped}; failed ${rep.failed}.${note}${rep.error === undefined ? '' : ` Stopped early: ${rep.error.message}`}`,
      report: rep,
    });
  });

  app.post('/console/dlq/:queue/purge', async (c) => {
    const body = await actionBody(c);
    if (body instanceof Response) return body;
    const sel = selection(body);
    if (sel === undefined) return c.json({ error: { code: 'NO_SELECTION', message: 'choose a group or messages (the console never purges a whole queue at once)', details: null } }, 400);
    const dryRun = body['dryRun'] !== false;
    const r = await api.json<PurgeReport>(c.get('session'), `${qPath(c)}/purge`, { method: 'POST', body: { ...sel, dryRun }, signal: c.req.raw.signal });
    if (!r.ok) return c.json({ error: r.error }, r.status as 400);
    if (dryRun) return c.json({ count: r.body.purged, summary: `Dry run: would delete ${r.body.purged} for good.`, report: r.body });
    const { gone, note } = goneNote(body['expected'], r.body.selective?.selected ?? r.body.purged);
    return c.json({ count: r.body.purged, gone, summary: `Deleted ${r.body.purged}.${note}`, report: r.body });
  });

  // ---- topology
  app.get('/console/topology', (c) => {
    if (topology === undefined) return page(c, 'topology', 'Topology', html`<h1>Topology</h1><div class="note">Not available in this process.</div>`);
    return page(c, 'topology', 'Topology', topologyPage(topology));
  });

  return app;
}

/** Mounts the console on the API app (one call in createApp). */
export function registerConsoleRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  app.route('/', createConsole(ctx, (path, init) => app.request(path, init)));
}
