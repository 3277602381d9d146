import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJob, serveTestApp, type ServedTestApp, type TestApp } from '../api-test-kit.test-support.ts';

/** The job route on a real @hono/node-server, where the body is read from Node's request stream. */
describe('job body over a real HTTP server', () => {
  let served: ServedTestApp;
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    served = await serveTestApp();
    t = served.t;
    port = served.port;
  });
  afterAll(() => served.close());

  const post = (chunks: string[], headers: Record<string, string>) => served.post('/v1/jobs/chat', chunks, headers);

  it('publishes the bytes of a Content-Length body as sent, also when they arrive in pieces', async () => {
    const sent = JSON.stringify(chatJob({ metadata: { pad: 'x'.repeat(70_000) } }), null, 1);
    const before = t.publisher.published.length;
    const res = await post([sent.slice(0, 10), sent.slice(10, 40_000), sent.slice(40_000)], { 'content-length': String(Buffer.byteLength(sent)) });
    expect(res.status).toBe(202);
    expect(t.publisher.published[before]?.content.toString('utf8')).toBe(sent);
  });

  it('reads a chunked body through the streaming size limit, and still 413s an oversized one', async () => {
    const sent = JSON.stringify(chatJob());
    const before = t.publisher.published.length;
    const ok = await post([sent.slice(0, 5), sent.slice(5)], { 'transfer-encoding': 'chunked' });
    expect(ok.status).toBe(202);
    expect(t.publisher.published[before]?.content.toString('utf8')).toBe(sent);
    const big = await post(['{"model":"m","messages":[],"x":"', 'y'.repeat(2_000_000), '"}'], { 'transfer-encoding': 'chunked' });
    expect(big.status).toBe(413);
    expect(t.publisher.published).toHaveLength(before + 1);
  });

  it('a client that goes away mid-body publishes nothing and the server keeps serving', async () => {
    const before = t.publisher.published.length;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          'POST /v1/jobs/chat HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer all-key-0123456789\r\ncontent-length: 500\r\n\r\n{"model":"m",',
        );
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(t.publisher.published).toHaveLength(before);
    // The handler did not hang on the half body: it ended with 400 BODY_UNREADABLE (recorded, though nobody was left to read it).
    const metrics = await t.deps.metrics.registry.metrics();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*status="400"[^}]*\} 1/);
    const sent = JSON.stringify(chatJob());
    expect((await post([sent], { 'content-length': String(sent.length) })).status).toBe(202);
  });
});
