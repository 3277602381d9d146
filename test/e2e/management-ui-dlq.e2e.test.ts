import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import amqplib from 'amqplib';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/jobs/headers.ts';
import { TEST_MANAGEMENT_URL } from '../integration/helpers/broker-env.ts';
import { createTestVhost, type TestVhost } from '../integration/helpers/test-vhost.ts';

/** Debian's chromium, installed by scripts/ensure-chromium.sh (playwright-core never downloads a browser). */
const CHROMIUM = process.env.WARREN_CHROMIUM ?? '/usr/bin/chromium';
// The README's screenshot is refreshed only on request (WARREN_UPDATE_SCREENSHOT=1), so a test run never edits tracked files.
const SCREENSHOT = process.env.WARREN_UPDATE_SCREENSHOT === '1'
  ? resolve(import.meta.dirname, '../../docs/img/management-ui-dlq.png')
  : join(tmpdir(), `warren-management-ui-dlq-${process.pid}.png`);

/**
 * An operator's first step on a bad day: open the DLQ in the RabbitMQ management
 * UI, "Get messages", and read why the job died. A real headless browser against
 * the real management UI; the screenshot is the one the README shows.
 */
describe('management UI shows warren dead-letter headers (headless chromium)', () => {
  let vh: TestVhost;
  let browser: Browser;
  const ui = new URL(TEST_MANAGEMENT_URL);
  const user = decodeURIComponent(ui.username || 'guest');
  const password = decodeURIComponent(ui.password || 'guest');
  const base = `${ui.protocol}//${ui.host}`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh (installs Debian's chromium with apt-get)`);
    vh = await createTestVhost('dlq-ui');
    const conn = await amqplib.connect(vh.amqpUrl);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('llm.dlx', 'direct');
    await ch.assertQueue('llm.dead', { arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue('llm.dead', 'llm.dlx', 'llm.dead');
    // What a warren worker publishes when a job has used up its attempts.
    ch.publish('llm.dlx', 'llm.dead', Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarise the incident report' }], priority: 'standard' })), {
      messageId: 'job-7f3a9c',
      contentType: 'application/json',
      persistent: true,
      headers: {
        [HEADERS.route]: 'chat',
        [HEADERS.errorClass]: 'rate-limited',
        [HEADERS.errorMessage]: '429 Too Many Requests: rate limit reached for gpt-4o-mini (retry after 20s)',
        [HEADERS.reason]: 'attempts-exhausted',
        [HEADERS.attempts]: 5,
        [HEADERS.attempt]: 5,
        [HEADERS.originExchange]: 'llm.jobs',
        [HEADERS.originRoutingKey]: 'llm.standard.chat',
        [HEADERS.originQueue]: 'llm.standard',
        [HEADERS.failedAt]: new Date().toISOString(),
      },
    });
    await ch.waitForConfirms();
    await conn.close();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await vh?.cleanup();
  });

  it('logs in, opens the DLQ, gets a message and finds x-warren-error-class', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/`);
    await page.fill('input[name="username"]', user);
    await page.fill('input[name="password"]', password);
    await page.click('input[type="submit"][value="Login"]');
    await page.waitForSelector('#logout', { timeout: 15_000 });

    await page.goto(`${base}/#/queues/${encodeURIComponent(vh.vhost)}/llm.dead`);
    const section = page.locator('div:has(> h2:text-is("Get messages"))');
    await section.locator('h2').click();
    await section.locator('input[type="submit"][value="Get Message(s)"]').click();
    const wrapper = page.locator('#msg-wrapper');
    await expect.poll(async () => wrapper.innerText(), { timeout: 15_000 }).toContain(HEADERS.errorClass);
    const text = await wrapper.innerText();
    expect(text).toContain('rate-limited');
    expect(text).toContain(HEADERS.originQueue);
    expect(text).toContain('llm.standard');

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: SCREENSHOT });
    expect(existsSync(SCREENSHOT)).toBe(true);
    await page.close();
  });
});
