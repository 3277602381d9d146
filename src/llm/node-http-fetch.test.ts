import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeHttpFetch } from './node-http-fetch.ts';

// A narrow local server stands in for the provider: the subject is the fetch adapter and how the SDK sees it.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url?.includes('hang')) return; // never answers
      if (req.url?.includes('limited')) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit', code: null } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
      res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body: body === '' ? null : JSON.parse(body) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('node:http fetch adapter', () => {
  const f = createNodeHttpFetch();

  it('sends method, headers and body, and reads status, headers and JSON', async () => {
    const res = await f(`${base}/echo`, { method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' }, body: JSON.stringify({ a: 1 }) });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get('X-Request-Id')).toBe('req-1');
    expect(await res.json()).toEqual({ method: 'POST', auth: 'Bearer k', body: { a: 1 } });
  });

  it('rejects with an AbortError when the signal fires, and a TypeError with the cause when the connection fails', async () => {
    const ac = new AbortController();
    const pending = f(`${base}/hang`, { method: 'POST', body: '{}', signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    const refused = await f('http://127.0.0.1:9/x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    expect(((refused as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('gives the openai SDK what it needs: results, typed HTTP errors, timeouts, user aborts and connection errors', async () => {
    const client = (baseURL: string, timeout = 5_000) => new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0, timeout, fetch: f });
    const ok = (await client(`${base}/v1`).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })) as unknown as { body: { model: string } };
    expect(ok.body.model).toBe('m');
    const limited = await client(`${base}/limited`).chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).headers?.get('retry-after')).toBe('2');
    const timedOut = await client(`${base}/hang`, 100).chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(APIConnectionTimeoutError);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const aborted = await client(`${base}/hang`).chat.completions.create({ model: 'm', messages: [] }, { signal: ac.signal }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(APIUserAbortError);
    const refused = await client('http://127.0.0.1:9/v1').chat.completions.create({ model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIConnectionError);
    expect(refused).not.toBeInstanceOf(APIConnectionTimeoutError);
  });
});
