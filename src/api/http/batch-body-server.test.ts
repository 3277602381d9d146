import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJob, createTestApp, type TestApp } from '../api-test-kit.test-support.ts';

/** The batch route on a real @hono/node-server: the body is read from Node's request stream (or, chunked, through the body limit). */
describe('batch body over a real HTTP server', () => {
  let t: TestApp;
  let server: ReturnType<typeof serve>;
  let port: number;

  beforeAll(async () => {
    t = createTestApp();
    server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  function post(chunks: string[], headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, agent: false, method: 'POST', path: '/v1/jobs/chat/batch', headers: { 'content-type': 'application/json', authorization: 'Bearer all-key-0123456789', ...headers } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  it.each([
    ['with Content-Length', true],
    ['chunked', false],
  ])('publishes each job of a batch sent in pieces as sent (%s)', async (_name, sized) => {
    const jobs = [JSON.stringify(chatJob({ metadata: { n: 1 } })), ` ${JSON.stringify(chatJob({ metadata: { n: 2 } }))}\n`];
    const body = `{"mode": "best-effort", "jobs": [${jobs.join(',')}]}`;
    const pieces = [body.slice(0, 10), body.slice(10, 47), body.slice(47)];
    const before = t.publisher.published.length;
    const res = await post(pieces, sized ? { 'content-length': String(Buffer.byteLength(body)) } : {});
    expect(res.status).toBe(202);
    expect(t.publisher.published.slice(before).map((p) => p.content.toString('utf8'))).toEqual(jobs.map((j) => j.trim()));
  });
});
