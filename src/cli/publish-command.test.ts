import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJob, createTestApp, type TestApp } from '../api/api-test-kit.test-support.ts';
import { createCliContext } from './cli-context.ts';
import { captureIo } from './cli-test-io.test-support.ts';
import { createProgram } from './program.ts';
import { registerPublishCommand } from './publish-command.ts';

let t: TestApp;
let server: ReturnType<typeof serve>;
let url: string;

beforeAll(async () => {
  t = createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function publish(args: string[], env: NodeJS.ProcessEnv = { WARREN_API_URL: url, WARREN_API_KEY: 'all-key-0123456789' }) {
  const io = captureIo();
  const ctx = createCliContext({ io, env });
  const program = createProgram(ctx, [registerPublishCommand]);
  let code = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
    code = ctx.exitCode;
  } catch (err) {
    const { renderError } = await import('./render-error.ts');
    code = renderError(io, err, { json: args.includes('--json'), verbose: false });
  }
  return { code, out: io.out(), err: io.err() };
}

describe('warren publish', () => {
  it('submits through the API and prints the job id', async () => {
    const r = await publish(['publish', 'chat', '--data', JSON.stringify(chatJob())]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^queued job [0-9a-f-]{36} on route 'chat'\n$/);
    expect(t.publisher.published.at(-1)?.routingKey).toBe('llm.standard.chat');
  });

  it('--json prints the API answer', async () => {
    const r = await publish(['publish', 'task', '--json', '--data', '{"type":"resize"}']);
    expect(JSON.parse(r.out)).toEqual({ id: expect.any(String), route: 'task', status: 'queued' });
  });

  it('--wait prints the result and exits 4 when the job failed', async () => {
    t.publisher.publish = async (req) => {
      t.publisher.published.push(req);
      const id = req.properties?.messageId as string;
      setTimeout(() => t.index.apply({ jobId: id, status: 'dead-lettered', attempt: 1, at: new Date().toISOString(), error: { class: 'bad-request', message: 'nope' } }), 20);
    };
    const r = await publish(['publish', 'chat', '--wait', '5s', '--data', JSON.stringify(chatJob())]);
    expect(r.code).toBe(4);
    expect(r.out).toContain('dead-lettered');
    expect(r.out).toContain('last error: bad-request: nope');
  });

  it('shows the API error (validation) and exits 1', async () => {
    const r = await publish(['publish', 'chat', '--data', '{"model":""}']);
    expect(r.code).toBe(1);
    expect(r.err).toBe("error: the job does not match the 'chat-completion' schema of route 'chat' (HTTP 400)\n");
  });

  it('reports a missing key as the API does (401)', async () => {
    const r = await publish(['publish', 'chat', '--data', '{}'], { WARREN_API_URL: url });
    expect(r.err).toBe('error: missing API key: send Authorization: Bearer <key> (HTTP 401)\n');
  });

  it('says clearly when the API is not running', async () => {
    const r = await publish(['publish', 'chat', '--data', '{}'], { WARREN_API_URL: 'http://127.0.0.1:1', WARREN_API_KEY: 'k' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: can't reach the warren API at http:\/\/127\.0\.0\.1:1 \(.+\); is 'warren start api' running\? Set --url or WARREN_API_URL\.\n$/);
  });

  it('rejects bad local input before calling the API', async () => {
    expect((await publish(['publish', 'chat', '--data', '{oops'])).err).toMatch(/^error: the job is not valid JSON/);
    expect((await publish(['publish', 'chat'])).err).toContain('the job body is missing');
    expect((await publish(['publish', 'chat', '--data', '{}', '--wait', 'soon'])).err).toContain("--wait must be a duration such as 30s or 2m, got 'soon'");
  });
});
