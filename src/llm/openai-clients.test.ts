import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, InternalServerError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAiClient, createOpenAiClients } from './openai-clients.ts';

// A narrow local server stands in for the provider: the subject is how the client is configured, not the fake LLM.
let server: Server;
let base: string;
let connections = 0;
const hits = new Map<string, number>();
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path.includes('hang')) return; // never answers
      if (path.includes('limited')) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit', code: null } }));
        return;
      }
      if (path.includes('broken')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'boom', type: 'server_error', code: null } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
      res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body: body === '' ? null : JSON.parse(body) }));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const provider = (baseURL: string, timeout = 5_000, apiKey = 'k') => ({ baseURL, apiKey, timeout, models: {} });
const ask = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('openai client (the SDK over the default fetch)', () => {
  it('sends the key and the request, and reads the response', async () => {
    const res = (await createOpenAiClient(provider(`${base}/v1`)).chat.completions.create(ask)) as unknown as { method: string; auth: string; body: { model: string } };
    expect(res).toMatchObject({ method: 'POST', auth: 'Bearer k', body: { model: 'm' } });
    const local = (await createOpenAiClient(provider(`${base}/v1`, 5_000, '')).chat.completions.create(ask)) as unknown as { auth: string };
    expect(local.auth).toBe('Bearer no-key');
  });

  it('keeps one connection alive across calls', async () => {
    const client = createOpenAiClient(provider(`${base}/keep/v1`));
    await client.chat.completions.create(ask);
    const before = connections;
    for (let i = 0; i < 5; i++) await client.chat.completions.create(ask);
    expect(connections).toBe(before);
    expect(hits.get('/keep/v1/chat/completions')).toBe(6);
  });

  it('gives typed errors with headers, and never retries on its own (the queue owns retries)', async () => {
    const limited = await createOpenAiClient(provider(`${base}/limited`)).chat.completions.create(ask).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).headers?.get('retry-after')).toBe('2');
    const broken = await createOpenAiClient(provider(`${base}/broken`)).chat.completions.create(ask).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(InternalServerError);
    expect(hits.get('/broken/chat/completions')).toBe(1);
    expect(hits.get('/limited/chat/completions')).toBe(1);
  });

  it("ends a call at the provider's timeout or the caller's abort, and reports a refused connection", async () => {
    const timedOut = await createOpenAiClient(provider(`${base}/hang`, 100)).chat.completions.create(ask).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(APIConnectionTimeoutError);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const aborted = await createOpenAiClient(provider(`${base}/hang`)).chat.completions.create(ask, { signal: ac.signal }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(APIUserAbortError);
    const refused = await createOpenAiClient(provider('http://127.0.0.1:9/v1')).chat.completions.create(ask).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIConnectionError);
    expect(refused).not.toBeInstanceOf(APIConnectionTimeoutError);
  });

  it('builds one client per provider, lazily, and names an unknown provider', () => {
    const clients = createOpenAiClients({ a: provider(`${base}/v1`) });
    expect(clients.get('a')).toBe(clients.get('a'));
    expect(() => clients.get('b')).toThrow("unknown provider 'b'");
  });
});
