import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJob, serveTestApp, type ServedTestApp, type TestApp } from '../api-test-kit.test-support.ts';

/** The batch route on a real @hono/node-server: the body is read from Node's request stream (or, chunked, through the body limit). */
describe('batch body over a real HTTP server', () => {
  let served: ServedTestApp;
  let t: TestApp;

  beforeAll(async () => {
    served = await serveTestApp();
    t = served.t;
  });
  afterAll(() => served.close());

  const post = (chunks: string[], headers: Record<string, string>) => served.post('/v1/jobs/chat/batch', chunks, headers);

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
