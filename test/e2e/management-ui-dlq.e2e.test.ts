import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createFakeLlmServer, type FakeLlmServer } from '../../fake-llm/index.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker } from '../../src/worker/start-worker.ts';
import { TEST_MANAGEMENT_URL } from '../integration/helpers/broker-env.ts';
import { createWorkerHarness, type WorkerHarness } from '../integration/helpers/worker-harness.ts';
import { llmTopology } from './helpers/llm-topology.ts';

/** Debian's chromium, installed by scripts/ensure-chromium.sh (playwright-core never downloads a browser). */
const CHROMIUM = process.env.WARREN_CHROMIUM ?? '/usr/bin/chromium';
// The README's screenshot is refreshed only on request (WARREN_UPDATE_SCREENSHOT=1), so a test run never edits tracked files.
const SCREENSHOT = process.env.WARREN_UPDATE_SCREENSHOT === '1'
  ? resolve(import.meta.dirname, '../../docs/img/management-ui-dlq.png')
  : join(tmpdir(), `warren-management-ui-dlq-${process.pid}.png`);
const API_KEY = 'e2e-key-0123456789';


/**
 * An operator's first step on a bad day: open the DLQ in the RabbitMQ management
 * UI, "Get messages", and read why the job died. The dead letter is warren's own:
 * the job goes in through the publish API, a real worker calls the fake LLM, which
 * answers 400 context_length_exceeded, and the worker dead-letters it. A real
 * headless browser against the real management UI; the screenshot is the one the
 * README shows.
 */
describe('management UI shows the dead letter a warren worker produced (headless chromium)', () => {
  let h: WorkerHarness;
  let llm: FakeLlmServer;
  let browser: Browser;
  let jobId: string;
  const ui = new URL(TEST_MANAGEMENT_URL);
  const user = decodeURIComponent(ui.username || 'guest');
  const password = decodeURIComponent(ui.password || 'guest');
  const base = `${ui.protocol}//${ui.host}`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh (installs Debian's chromium with apt-get)`);
    llm = await createFakeLlmServer({ latencyMs: 20 });
    h = await createWorkerHarness('dlq-ui', () => llmTopology(llm.url));
    const logger = createSilentLogger();
    let api: RunningApi | undefined;
    const worker = await startWorker({ topology: h.loaded, logger });
    try {
      api = await startApi({ topology: h.loaded, port: 0, apiKeys: `${API_KEY}:*`, logger, processMetrics: false });
      const res = await fetch(`${api.url}/v1/jobs/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarise the incident report [[fail:400:context-length]]' }] }),
      });
      expect(res.status).toBe(202);
      jobId = ((await res.json()) as { id: string }).id;
      // The worker's own verdict, as the status API reports it.
      const deadline = Date.now() + 30_000;
      let status = '';
      while (Date.now() < deadline && status !== 'dead-lettered') {
        const view = await fetch(`${api.url}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${API_KEY}` } });
        status = view.ok ? ((await view.json()) as { status: string }).status : '';
        if (status !== 'dead-lettered') await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe('dead-lettered');
    } finally {
      await api?.close();
      await worker.close(5_000);
    }
    expect(llm.stats().byStatus['400']).toBe(1);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await llm?.close();
  });

  it('logs in, opens the DLQ, gets the message and finds the headers the worker wrote', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/`);
    await page.fill('input[name="username"]', user);
    await page.fill('input[name="password"]', password);
    await page.click('input[type="submit"][value="Login"]');
    await page.waitForSelector('#logout', { timeout: 15_000 });

    await page.goto(`${base}/#/queues/${encodeURIComponent(h.vh.vhost)}/llm.dead`);
    const section = page.locator('div:has(> h2:text-is("Get messages"))');
    await section.locator('h2').click();
    await section.locator('input[type="submit"][value="Get Message(s)"]').click();
    const wrapper = page.locator('#msg-wrapper');
    await expect.poll(async () => wrapper.innerText(), { timeout: 15_000 }).toContain(HEADERS.errorClass);
    const text = await wrapper.innerText();
    // This job (the id the API answered), dead-lettered by the worker for the provider's 400, from its origin queue.
    expect(text).toContain(jobId);
    expect(text).toContain('context-length');
    expect(text).toContain(HEADERS.reason);
    expect(text).toContain(HEADERS.originQueue);
    expect(text).toContain('llm.standard');
    expect(text).toContain('Summarise the incident report');

    // The UI slides the message open: shoot once its box has stopped growing, or the picture shows only the form.
    let lastHeight = -1;
    await expect
      .poll(async () => {
        const height = (await wrapper.boundingBox())?.height ?? 0;
        const settled = height > 100 && height === lastHeight;
        lastHeight = height;
        return settled;
      }, { timeout: 15_000, interval: 250 })
      .toBe(true);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    await page.close();
  });
});
