import { describe, expect, it } from 'vitest';
import { createTestApp } from '../api-test-kit.test-support.ts';
import type { WarrenApp } from '../create-app.ts';
import type { DlqOperations } from '../dlq-operations.ts';
import { csrfTokenFor, CSRF_HEADER, SESSION_COOKIE } from './console-session.ts';

const ADMIN = 'admin-key-0123456789';
const CHAT = 'chat-key-0123456789';
const cookie = (key: string) => ({ cookie: `${SESSION_COOKIE}=${key}` });

async function login(app: WarrenApp, key: string): Promise<Response> {
  return app.request('/console/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ key }).toString() });
}

/** DLQ operations that record requeues; groups answer one group whose reason holds markup. */
function recordingDlq() {
  const requeues: unknown[] = [];
  const ops: DlqOperations = {
    list: () => Promise.reject(new Error('not used')),
    async requeue(queue, body) {
      requeues.push(body);
      const dryRun = (body as { dryRun?: boolean }).dryRun === true;
      return { queue, action: 'requeue', dryRun, total: 2, snapshot: 2, scanned: 2, selected: dryRun ? 2 : 1, moved: dryRun ? 2 : 1, skipped: { filtered: 0, capped: 0, unknownOrigin: 0, notScanned: 0 }, failed: 0, deduplicated: 0, possibleDuplicates: 0, unacked: 0, destinations: { 'queue llm.standard': 1 }, unknownOrigins: [], failures: [], plan: [], interrupted: false, eventErrors: 0, warnings: [], durationMs: 1, rate: 1 };
    },
    async groups(queue) {
      return { queue, total: 2, scanned: 2, matched: 2, truncated: false, warnings: [], groups: [{ id: 'g1', origin: 'llm.standard', reason: '<img src=x onerror=alert(1)>', errorClass: 'x', count: 2, routes: { chat: 2 }, unknownOrigin: 0, overCap: 0, sampleError: '<script>alert(1)</script>' }] };
    },
    queues: () => ['llm.dead'],
  };
  return { ops, requeues };
}

describe('console sessions', () => {
  it('sends a browser without a session to the login form, and a script to a JSON 401', async () => {
    const { app } = createTestApp();
    const page = await app.request('/console/jobs');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/login');
    const action = await app.request('/console/dlq/llm.dead/requeue', { method: 'POST', body: '{}' });
    expect(action.status).toBe(401);
    // A bearer header is no console session: the console reads only its own cookie.
    expect((await app.request('/console', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(303);
  });

  it('refuses a wrong key, and keeps a good one in an HttpOnly, SameSite=Strict cookie under /console only', async () => {
    const { app } = createTestApp();
    const bad = await login(app, 'nope');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const good = await login(app, CHAT);
    expect(good.status).toBe(303);
    const setCookie = good.headers.get('set-cookie') ?? '';
    expect(setCookie).toContain(`${SESSION_COOKIE}=${CHAT}`);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/console/);
    expect(good.headers.get('location')).toBe('/console');
  });

  it('refuses a login form posted from another site, and a console request body over 256 KiB before reading it', async () => {
    const { app } = createTestApp();
    const forged = await app.request('http://localhost/console/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'localhost', origin: 'https://evil.example' }, body: new URLSearchParams({ key: CHAT }).toString() });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('set-cookie')).toBeNull();
    const form = (headers: Record<string, string>) => app.request('/console/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ key: CHAT }).toString() });
    // `Origin: null` (a browser's privacy setting): only the browser's own same-origin mark lets it through.
    expect((await form({ origin: 'null', 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    expect((await form({ origin: 'null', 'sec-fetch-site': 'cross-site' })).status).toBe(401);
    expect((await form({ origin: 'null' })).status).toBe(401);
    const big = await app.request('/console/dlq/llm.dead/requeue', { method: 'POST', headers: { ...cookie(ADMIN), 'content-type': 'application/json', [CSRF_HEADER]: csrfTokenFor(ADMIN) }, body: JSON.stringify({ id: ['x'.repeat(300 * 1024)] }) });
    expect(big.status).toBe(413);
  });

  it('serves pages with a strict Content-Security-Policy and the CSRF token of the key, never the key itself', async () => {
    const { app } = createTestApp();
    const res = await app.request('/console/jobs', { headers: cookie(CHAT) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const text = await res.text();
    expect(text).toContain(csrfTokenFor(CHAT));
    expect(text).not.toContain(CHAT);
  });
});

describe('console pages and actions', () => {
  it('escapes markup from dead letters (reason, error message) in the groups page', async () => {
    const { ops } = recordingDlq();
    const { app } = createTestApp({ dlq: ops });
    const text = await (await app.request('/console/dlq/llm.dead', { headers: cookie(ADMIN) })).text();
    expect(text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(text).not.toContain('<img src=x');
    expect(text).not.toContain('<script>alert');
  });

  it('refuses an action without the CSRF token or from another site, and passes a good one through to the DLQ operations', async () => {
    const { ops, requeues } = recordingDlq();
    const { app } = createTestApp({ dlq: ops });
    const send = (headers: Record<string, string>, body: unknown) =>
      app.request('http://localhost/console/dlq/llm.dead/requeue', { method: 'POST', headers: { ...cookie(ADMIN), 'content-type': 'application/json', host: 'localhost', ...headers }, body: JSON.stringify(body) });
    expect((await send({}, { group: 'g1' })).status).toBe(403);
    expect((await send({ [CSRF_HEADER]: csrfTokenFor(ADMIN), origin: 'https://evil.example' }, { group: 'g1' })).status).toBe(403);
    expect((await send({ [CSRF_HEADER]: csrfTokenFor(ADMIN), 'sec-fetch-site': 'cross-site' }, { group: 'g1' })).status).toBe(403);
    expect(requeues).toEqual([]);
    const ok = { [CSRF_HEADER]: csrfTokenFor(ADMIN), origin: 'http://localhost', 'sec-fetch-site': 'same-origin' };
    // Nothing selected: refused, never "the whole queue".
    expect((await send(ok, {})).status).toBe(400);
    const dry = await send(ok, { group: 'g1', dryRun: true });
    expect(await dry.json()).toMatchObject({ count: 2, summary: expect.stringContaining('would requeue 2') });
    const real = await send(ok, { group: 'g1', dryRun: false, expected: 2 });
    expect(await real.json()).toMatchObject({ count: 1, gone: 1, summary: expect.stringContaining('1 of the 2 counted in the dry run were gone') });
    expect(requeues).toEqual([{ group: ['g1'], dryRun: true }, { group: ['g1'], dryRun: false }]);
    // To another route, and a selection of messages instead of a group.
    await send(ok, { id: ['m-1', 'm-2'], toRoute: 'chat', dryRun: true });
    expect(requeues[2]).toEqual({ id: ['m-1', 'm-2'], toRoute: 'chat', dryRun: true });
  });

  it("an action with a key that lacks the admin scope is refused by the API's own scope check", async () => {
    const { ops, requeues } = recordingDlq();
    const { app } = createTestApp({ dlq: ops });
    const res = await app.request('/console/dlq/llm.dead/requeue', { method: 'POST', headers: { ...cookie(CHAT), 'content-type': 'application/json', [CSRF_HEADER]: csrfTokenFor(CHAT) }, body: JSON.stringify({ group: 'g1', dryRun: true }) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect(requeues).toEqual([]);
  });

  it('shows a key only its own jobs in the list, and a job of another key as not found', async () => {
    const { app, index } = createTestApp();
    const at = new Date().toISOString();
    index.apply({ jobId: 'mine-1', status: 'queued', attempt: 1, at, source: 'api', route: 'chat', owner: 'env#1' } as never);
    index.apply({ jobId: 'theirs-1', status: 'queued', attempt: 1, at, source: 'api', route: 'chat', owner: 'env#2' } as never);
    const list = await (await app.request('/console/jobs', { headers: cookie(CHAT) })).text();
    expect(list).toContain('mine-1');
    expect(list).not.toContain('theirs-1');
    const other = await app.request('/console/jobs/theirs-1', { headers: cookie(CHAT) });
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('JOB_NOT_FOUND');
    const filtered = await (await app.request('/console/jobs?idPrefix=mine', { headers: cookie(ADMIN) })).text();
    expect(filtered).toContain('mine-1');
    expect(filtered).not.toContain('theirs-1');
  });

  it('shows a banner when the broker is down', async () => {
    const { app } = createTestApp({ isBrokerConnected: () => false });
    const text = await (await app.request('/console/topology', { headers: cookie(ADMIN) })).text();
    expect(text).toContain('The broker is unreachable');
  });
});
