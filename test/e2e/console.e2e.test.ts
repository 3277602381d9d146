import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlmServer, type FakeLlmServer } from '../../fake-llm/index.ts';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { dlqForApi } from '../../src/cli/start-command.ts';
import { defaultConfig } from '../../src/config/load-config.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { createWorkerHarness, type WorkerHarness } from '../integration/helpers/worker-harness.ts';
import { llmTopology } from './helpers/llm-topology.ts';

/** What the tests read in the page (the project compiles without the DOM lib). */
interface BrowserGlobals {
  document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };
}

/** Debian's chromium, installed by scripts/ensure-chromium.sh (playwright-core never downloads a browser). */
const CHROMIUM = process.env.WARREN_CHROMIUM ?? '/usr/bin/chromium';
// The README's screenshots are refreshed only on request (WARREN_UPDATE_SCREENSHOT=1), so a test run never edits tracked files.
const SHOTS = process.env.WARREN_UPDATE_SCREENSHOT === '1' ? resolve(import.meta.dirname, '../../docs/console') : join(tmpdir(), `warren-console-${process.pid}`);
const ADMIN_KEY = 'console-admin-key-0123456789';
const VIEWER_KEY = 'console-viewer-key-0123456789';
const TENANT_KEY = 'console-tenant-key-0123456789';


/**
 * The operator console in a real headless chromium against a real API, worker,
 * fake LLM and broker: log in, watch a job succeed live, read a failed job's
 * attempts, find a dead-letter group, dry-run and requeue it and see the jobs
 * succeed, be refused an action with a read-only key, and see a `<script>`
 * payload rendered as text. One shared setup keeps the file's time small.
 */
describe('warren console (headless chromium, real API + worker + broker)', () => {
  let h: WarrenHarness;
  let browser: Browser;
  let stateDir = '';
  const shot = async (page: Page, name: string) => {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  interface WarrenHarness {
    wh: WorkerHarness;
    llm: FakeLlmServer;
    worker: Worker;
    api: RunningApi;
  }

  async function submit(key: string, content: string): Promise<string> {
    const res = await fetch(`${h.api.url}/v1/jobs/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  async function statusOf(id: string): Promise<string> {
    const res = await fetch(`${h.api.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    return res.ok ? ((await res.json()) as { status: string }).status : `http ${res.status}`;
  }

  async function login(key: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${h.api.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.fill('input[name="key"]', key);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${h.api.url}/console`);
    return page;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh (installs Debian's chromium with apt-get)`);
    stateDir = mkdtempSync(join(tmpdir(), 'warren-console-state-'));
    const llm = await createFakeLlmServer({ latencyMs: 20 });
    const wh = await createWorkerHarness('console', () => llmTopology(llm.url));
    const logger = createSilentLogger();
    const worker = await startWorker({ topology: wh.loaded, logger });
    const api = await startApi({
      topology: wh.loaded,
      port: 0,
      apiKeys: `${ADMIN_KEY}:*:admin:ops;${VIEWER_KEY}:chat:read-all:viewer;${TENANT_KEY}:chat::tenant`,
      logger,
      processMetrics: false,
      // As `warren start` wires it: the CLI's file journal (here in a temporary state folder).
      dlq: dlqForApi(defaultConfig(), { journal: 'file', env: { XDG_STATE_HOME: stateDir } }),
    });
    h = { wh, llm, worker, api };
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.api.close();
    await h?.worker.close(5_000);
    await h?.wh.close();
    await h?.llm.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses a wrong key, logs in with a good one, and follows a job live until it succeeds', async () => {
    const context = await browser.newContext();
    const bad = await context.newPage();
    await bad.goto(`${h.api.url}/console/login`);
    await shot(bad, 'login');
    await bad.fill('input[name="key"]', 'not-a-key');
    await bad.click('button[type="submit"]');
    await expect.poll(() => bad.locator('.result.err').innerText()).toContain('not valid');
    await context.close();

    const page = await login(TENANT_KEY);
    // The key lives in an HttpOnly cookie: no script (and no URL) sees it.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(page.url()).not.toContain(TENANT_KEY);

    const id = await submit(TENANT_KEY, 'Write a haiku about queues [[delay:1500]]');
    await page.goto(`${h.api.url}/console/jobs/${id}`);
    // Opened while the job still runs; the panel changes by itself (SSE) until it says succeeded.
    expect(await page.locator('#job-status').innerText()).not.toBe('succeeded');
    await expect.poll(() => page.locator('#job-status').innerText(), { timeout: 15_000 }).toBe('succeeded');
    expect(await page.locator('#live-log').innerText()).toContain('succeeded');
    expect(await page.locator('#job-usage').innerText()).toMatch(/\d+ prompt \+ \d+ completion/);
    // The payload is read from the job-events stream when the page is rendered: opened right after the submit it may
    // not be there yet (the card says so); a reload shows it.
    await page.reload();
    expect(await page.locator('#job-payload pre').innerText()).toContain('"content": "Write a haiku about queues [[delay:1500]]"');
    await shot(page, 'job');

    await page.goto(`${h.api.url}/console/jobs?route=chat`);
    expect(await page.locator(`tr[data-job="${id}"]`).count()).toBe(1);
    await shot(page, 'jobs');
    await page.context().close();
  });

  it("a tenant's key sees only its own jobs; an admin opens a failed job's attempts", async () => {
    const failed = await submit(ADMIN_KEY, 'This one keeps failing [[fail:500]]');
    await expect.poll(() => statusOf(failed), { timeout: 20_000 }).toBe('dead-lettered');

    const tenant = await login(TENANT_KEY);
    await tenant.goto(`${h.api.url}/console/jobs`);
    expect(await tenant.locator(`tr[data-job="${failed}"]`).count()).toBe(0);
    await tenant.goto(`${h.api.url}/console/jobs/${failed}`);
    expect(await tenant.locator('.banner').innerText()).toContain('JOB_NOT_FOUND');
    await tenant.context().close();

    const page = await login(ADMIN_KEY);
    await page.goto(`${h.api.url}/console/jobs?status=dead-lettered`);
    await page.click(`tr[data-job="${failed}"] a`);
    const attempts = page.locator('#job-attempts tbody tr');
    await expect.poll(() => attempts.count()).toBe(3);
    expect(await page.locator('#job-attempts').innerText()).toContain('server-error');
    // The payload it was submitted with, pretty-printed, with a download of it.
    expect(await page.locator('#job-payload pre').innerText()).toContain('"content": "This one keeps failing [[fail:500]]"');
    const href = await page.locator('#payload-download').getAttribute('href');
    const downloaded = await page.evaluate(async (h) => (await fetch(h as string)).text(), href);
    expect(JSON.parse(downloaded)).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'This one keeps failing [[fail:500]]' }] });
    await page.context().close();
  });

  it('finds a dead-letter group, dry-runs and requeues it, and the jobs succeed; a message gone meanwhile is reported, not moved twice', async () => {
    // Three jobs the fake LLM refuses once (400 context-length: not retried), then answers.
    const ids = await Promise.all([1, 2, 3].map((n) => submit(ADMIN_KEY, `Summarise report ${n} [[fail-first:1:400:context-length]]`)));
    for (const id of ids) await expect.poll(() => statusOf(id), { timeout: 20_000 }).toBe('dead-lettered');

    const page = await login(ADMIN_KEY);
    await shot(page, 'overview');
    expect(await page.locator('#drift').innerText()).toContain('In sync');
    await page.goto(`${h.api.url}/console/dlq/llm.dead`);
    const group = page.locator('.dlq-group[data-reason="context-length"]');
    expect(await group.locator('h2').innerText()).toMatch(/^3 × context-length/);
    await shot(page, 'dead-letters');

    const form = group.locator('form.action-requeue');
    await form.locator('button:text("Dry-run requeue")').click();
    await expect.poll(() => form.locator('.result').innerText()).toContain('would requeue 3');
    // The dry run moved nothing.
    for (const id of ids) expect(await statusOf(id)).toBe('dead-lettered');
    await form.locator('button[data-confirm]').click();
    await expect.poll(() => form.locator('.result').innerText(), { timeout: 20_000 }).toContain('Requeued 3');
    for (const id of ids) await expect.poll(() => statusOf(id), { timeout: 20_000 }).toBe('succeeded');

    // Another operator moves a message between the dry run and the confirm: the console says it is gone.
    const late = await submit(ADMIN_KEY, 'Late one [[fail-first:1:400:context-length]]');
    await expect.poll(() => statusOf(late), { timeout: 20_000 }).toBe('dead-lettered');
    await page.goto(`${h.api.url}/console/dlq/llm.dead/messages`);
    await page.check(`input[name="id"][value="${late}"]`);
    const sel = page.locator('form.action-requeue');
    await sel.locator('button:text("Dry-run requeue")').click();
    await expect.poll(() => sel.locator('.result').innerText()).toContain('would requeue 1');
    const other = await fetch(`${h.api.url}/v1/dlq/llm.dead/requeue`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: [late] }) });
    const otherReport = (await other.json()) as { moved: number; journal?: string };
    expect(otherReport.moved).toBe(1);
    // API requeues keep the CLI's journal file (as `warren start` wires them), settled once the acks are in.
    expect(otherReport.journal).toBe(join(stateDir, 'warren', 'dlq', encodeURIComponent(h.wh.vh.vhost), 'llm.dead.journal'));
    expect(readdirSync(join(stateDir, 'warren', 'dlq', encodeURIComponent(h.wh.vh.vhost))).filter((f) => f.endsWith('.journal'))).toEqual([]);
    await sel.locator('button[data-confirm]').click();
    await expect.poll(() => sel.locator('.result').innerText(), { timeout: 20_000 }).toContain('1 of the 1 counted in the dry run were gone');
    expect(await sel.locator('.result').innerText()).toContain('Requeued 0');
    await expect.poll(() => statusOf(late), { timeout: 20_000 }).toBe('succeeded');
    await page.goto(`${h.api.url}/console/topology`);
    expect(await page.locator('#routes-table').innerText()).toContain('llm.standard');
    await shot(page, 'topology');
    await page.context().close();
  });

  it('a read-only key is refused dead letters and actions; actions without the page token are refused too', async () => {
    const page = await login(VIEWER_KEY);
    const res = await page.goto(`${h.api.url}/console/dlq/llm.dead`);
    expect(res?.status()).toBe(403);
    expect(await page.locator('.banner').innerText()).toContain('FORBIDDEN');
    // The page's own token, sent as the console's script sends it: the API's scope check refuses.
    const refused = await page.evaluate(async () => {
      const csrf = (globalThis as unknown as BrowserGlobals).document.querySelector('meta[name="warren-csrf"]')?.getAttribute('content') ?? '';
      const r = await fetch('/console/dlq/llm.dead/requeue', { method: 'POST', headers: { 'content-type': 'application/json', 'x-warren-csrf': csrf }, body: JSON.stringify({ group: 'x', dryRun: false }) });
      return { status: r.status, body: await r.json() };
    });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    await page.context().close();

    const admin = await login(ADMIN_KEY);
    const noToken = await admin.evaluate(async () => {
      const r = await fetch('/console/dlq/llm.dead/purge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ group: 'x', dryRun: false }) });
      return { status: r.status, body: await r.json() };
    });
    expect(noToken).toMatchObject({ status: 403, body: { error: { code: 'CSRF_REFUSED' } } });
    await admin.context().close();
  });

  it('shows a <script> payload of 700 KB as escaped text, cut, with a download, on a phone-sized screen', async () => {
    const content = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> ${'lorem ipsum '.repeat(60_000)} [[fail:400:context-length]]`;
    const id = await submit(ADMIN_KEY, content);
    await expect.poll(() => statusOf(id), { timeout: 20_000 }).toBe('dead-lettered');
    const page = await login(ADMIN_KEY, { width: 390, height: 844 });
    await page.goto(`${h.api.url}/console/dlq/llm.dead/message?id=${id}`);
    const body = page.locator('#message-body');
    expect(await body.locator('pre').innerText()).toContain('<script>window.__pwned = 1</script>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('#message-body script, #message-body img').count()).toBe(0);
    expect(await body.innerText()).toContain('Showing the first 16,384');
    const download = await page.locator('#message-body a', { hasText: 'Download the whole' }).getAttribute('href');
    const whole = await page.evaluate(async (href) => (await fetch(href as string)).text(), download);
    expect(JSON.parse(whole.trim()).body).toContain('lorem ipsum '.repeat(60_000));
    await shot(page, 'dead-letter-phone');
    // The job page shows the same payload from the job history: escaped, cut for display, and only its first
    // 64 KiB kept (jobEvents.payloadBytes), which the page says.
    await page.goto(`${h.api.url}/console/jobs/${id}`);
    expect(await page.locator('#job-payload pre').innerText()).toContain('<script>window.__pwned = 1</script>');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('#job-payload script, #job-payload img').count()).toBe(0);
    expect(await page.locator('#payload-shown').innerText()).toContain('Showing the first 16,384');
    expect(await page.locator('#payload-truncated').innerText()).toContain('the job history keeps its first 65,536 bytes');
    const part = await page.evaluate(async (h) => (await fetch(h as string)).text(), await page.locator('#payload-download').getAttribute('href'));
    expect(Buffer.byteLength(part)).toBe(65_536);
    expect(part).toContain('<script>window.__pwned = 1</script>');
    await page.goto(`${h.api.url}/console/dlq/llm.dead`);
    expect(await page.locator('.dlq-group').count()).toBeGreaterThan(0);
    await shot(page, 'dead-letters-phone');
    await page.context().close();
  });
});
