import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import OpenAI, {
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
  UnprocessableEntityError,
} from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeLlmServer, type FakeLlmServer } from '../../fake-llm/index.ts';

// Driven through the real openai SDK, with its retries off so every call is one HTTP request.
function client(server: FakeLlmServer, opts: { apiKey?: string; timeout?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: server.url, apiKey: opts.apiKey ?? 'test-key', maxRetries: 0, timeout: opts.timeout ?? 10_000 });
}

function ask(openai: OpenAI, content: string, model = 'gpt-4o-mini') {
  return openai.chat.completions.create({ model, messages: [{ role: 'user', content }] });
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, it succeeded');
}

let seq = 0;
/** A prompt no other test uses, so `[[fail-first]]` counters never leak between tests. */
const unique = (text: string): string => `${text} #${++seq}-${Date.now()}`;

describe('fake LLM server through the openai SDK', () => {
  let server: FakeLlmServer;
  let openai: OpenAI;

  beforeAll(async () => {
    server = await createFakeLlmServer();
    openai = client(server);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.setConfig({ latencyMs: 0, jitterMs: 0, rpm: 0, rpmWindowMs: 60_000, failures: [], outage: null });
    server.resetStats();
  });

  it('answers a chat completion in the OpenAI shape, tokens estimated from the text', async () => {
    const short = await ask(openai, 'Say hi');
    const long = await ask(openai, 'Summarise: ' + 'lorem ipsum '.repeat(200));
    expect(short.id).toMatch(/^chatcmpl-/);
    expect(short.object).toBe('chat.completion');
    expect(short.model).toBe('gpt-4o-mini');
    expect(Math.abs(short.created - Date.now() / 1000)).toBeLessThan(5);
    expect(short.choices).toHaveLength(1);
    expect(short.choices[0]?.index).toBe(0);
    expect(short.choices[0]?.message.role).toBe('assistant');
    expect(short.choices[0]?.message.content).toBe('fake-llm reply to: "Say hi"');
    expect(short.choices[0]?.finish_reason).toBe('stop');
    const u = short.usage!;
    expect(u.prompt_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBe(Math.ceil('fake-llm reply to: "Say hi"'.length / 4));
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    // ~2,400 characters of prompt are ~600 tokens.
    expect(long.usage!.prompt_tokens).toBeGreaterThan(550);
    expect(long.id).not.toBe(short.id);
    const stats = server.stats();
    expect(stats.requests).toBe(2);
    expect(stats.byStatus).toEqual({ '200': 2 });
    expect(stats.promptTokens).toBe(u.prompt_tokens + long.usage!.prompt_tokens);
  });

  it('lists its models', async () => {
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual(['gpt-4o-mini', 'gpt-4o', 'warren-fake']);
    expect((await openai.models.retrieve('gpt-4o')).id).toBe('gpt-4o');
  });

  it('honours max_tokens by cutting the text with finish_reason length', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 2, messages: [{ role: 'user', content: 'a long question' }] });
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(res.choices[0]?.message.content).toHaveLength(8);
    expect(res.usage?.completion_tokens).toBe(2);
  });

  it('streams chunks when asked to, usage included', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream me' }],
    });
    let text = '';
    let finish: string | null | undefined;
    let total: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) total = chunk.usage.total_tokens;
    }
    expect(text).toBe('fake-llm reply to: "stream me"');
    expect(finish).toBe('stop');
    expect(total).toBeGreaterThan(0);
  });

  it('[[fail:429:retry-after=2]] -> RateLimitError with Retry-After headers', async () => {
    const err = await rejection(ask(openai, unique('[[fail:429:retry-after=2]]')));
    expect(err).toBeInstanceOf(RateLimitError);
    const e = err as RateLimitError;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.headers.get('retry-after')).toBe('2');
    expect(e.headers.get('retry-after-ms')).toBe('2000');
    // Plain [[fail:429]] still carries a Retry-After (1 s), retry-after=none carries none.
    const plain = (await rejection(ask(openai, unique('[[fail:429]]')))) as RateLimitError;
    expect(plain.headers.get('retry-after')).toBe('1');
    const none = (await rejection(ask(openai, unique('[[fail:429:retry-after=none]]')))) as RateLimitError;
    expect(none).toBeInstanceOf(RateLimitError);
    expect(none.headers.get('retry-after')).toBeNull();
    const quota = (await rejection(ask(openai, unique('[[fail:429:quota]]')))) as RateLimitError;
    expect(quota.code).toBe('insufficient_quota');
    expect(server.stats().rateLimited).toBe(4);
    expect(server.stats().rpmRejected).toBe(0);
  });

  it('[[fail:500]] and [[fail:503]] -> InternalServerError', async () => {
    const e500 = await rejection(ask(openai, unique('[[fail:500]]')));
    expect(e500).toBeInstanceOf(InternalServerError);
    expect((e500 as InternalServerError).status).toBe(500);
    const e503 = await rejection(ask(openai, unique('[[fail:503]]')));
    expect(e503).toBeInstanceOf(InternalServerError);
    expect((e503 as InternalServerError).status).toBe(503);
    expect(server.stats().byStatus).toEqual({ '500': 1, '503': 1 });
  });

  it('[[hang]] never answers: the SDK times out with APIConnectionTimeoutError', async () => {
    const started = Date.now();
    const err = await rejection(ask(client(server, { timeout: 300 }), unique('[[hang]]')));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // The server saw the client go away and released the request.
    await expect.poll(() => server.stats().hanging, { timeout: 2000 }).toBe(0);
    expect(server.stats().aborted).toBe(1);
    expect(server.stats().inFlight).toBe(0);
  });

  it('[[fail:400:context-length]] -> BadRequestError with code context_length_exceeded', async () => {
    const err = await rejection(ask(openai, unique('[[fail:400:context-length]]')));
    expect(err).toBeInstanceOf(BadRequestError);
    const e = err as BadRequestError;
    expect(e.code).toBe('context_length_exceeded');
    expect(e.param).toBe('messages');
    expect(e.message).toMatch(/maximum context length is 8192 tokens/);
  });

  it('[[fail:401]], [[fail:404]], [[fail:422]] -> AuthenticationError, NotFoundError, UnprocessableEntityError', async () => {
    const e401 = await rejection(ask(openai, unique('[[fail:401]]')));
    expect(e401).toBeInstanceOf(AuthenticationError);
    expect((e401 as AuthenticationError).code).toBe('invalid_api_key');
    const e404 = await rejection(ask(openai, unique('[[fail:404]]'), 'gpt-9'));
    expect(e404).toBeInstanceOf(NotFoundError);
    expect((e404 as NotFoundError).code).toBe('model_not_found');
    expect((e404 as NotFoundError).message).toContain('gpt-9');
    const e422 = await rejection(ask(openai, unique('[[fail:422]]')));
    expect(e422).toBeInstanceOf(UnprocessableEntityError);
  });

  it('[[content-filter]] -> 200 with finish_reason content_filter and no content', async () => {
    const res = await ask(openai, unique('[[content-filter]]'));
    expect(res.choices[0]?.finish_reason).toBe('content_filter');
    expect(res.choices[0]?.message.content).toBeNull();
  });

  it('[[fail-first:2]] fails the first two identical calls with 500, then succeeds', async () => {
    const prompt = unique('retry me [[fail-first:2]]');
    expect(await rejection(ask(openai, prompt))).toBeInstanceOf(InternalServerError);
    expect(await rejection(ask(openai, prompt))).toBeInstanceOf(InternalServerError);
    const ok = await ask(openai, prompt);
    expect(ok.choices[0]?.message.content).toContain('retry me');
    expect(ok.choices[0]?.message.content).not.toContain('[[');
    // Another prompt with the same marker has its own count.
    expect(await rejection(ask(openai, unique('other [[fail-first:1:429]]')))).toBeInstanceOf(RateLimitError);
  });

  it('[[delay:400]] and the configured latency (+ jitter) are honoured', async () => {
    let t = Date.now();
    await ask(openai, unique('[[delay:400]]'));
    expect(Date.now() - t).toBeGreaterThanOrEqual(395);

    server.setConfig({ latencyMs: 200, jitterMs: 100 });
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      t = Date.now();
      await ask(openai, 'latency');
      times.push(Date.now() - t);
    }
    expect(Math.min(...times)).toBeGreaterThanOrEqual(195);
    expect(Math.max(...times)).toBeLessThan(600);
    // A marker's delay replaces the configured latency.
    t = Date.now();
    await ask(openai, unique('[[delay:0]]'));
    expect(Date.now() - t).toBeLessThan(150);
  });

  it('answers a bad marker with a 400 that names it', async () => {
    const err = await rejection(ask(openai, '[[fail:abc]]'));
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).code).toBe('FAKE_LLM_BAD_MARKER');
    expect((err as BadRequestError).message).toContain('[[fail:abc]]');
  });

  it('enforces its own RPM limit with 429 + Retry-After, then admits again when the window slides', async () => {
    server.setConfig({ rpm: 5, rpmWindowMs: 1000 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => ask(openai, 'rpm')));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const limited = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(ok).toBe(5);
    expect(limited).toHaveLength(3);
    for (const e of limited) {
      expect(e).toBeInstanceOf(RateLimitError);
      const retryMs = Number((e as RateLimitError).headers.get('retry-after-ms'));
      expect(retryMs).toBeGreaterThan(0);
      expect(retryMs).toBeLessThanOrEqual(1000);
      expect((e as RateLimitError).headers.get('retry-after')).toBe('1');
    }
    expect(server.stats().rpmRejected).toBe(3);
    await new Promise((r) => setTimeout(r, 1050));
    const again = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'again' }] }).withResponse();
    expect(again.response.headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect(again.response.headers.get('x-ratelimit-remaining-requests')).toBe('4');
  });

  it('a per-minute limit refuses the 11th request with a Retry-After of about a minute', async () => {
    server.setConfig({ rpm: 10 });
    for (let i = 0; i < 10; i++) await ask(openai, 'minute');
    const err = (await rejection(ask(openai, 'minute'))) as RateLimitError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(Number(err.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(Number(err.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('an outage answers every request with its status until it ends', async () => {
    server.setConfig({ outage: { status: 500, untilMs: Date.now() + 300 } });
    expect(await rejection(ask(openai, 'down'))).toBeInstanceOf(InternalServerError);
    expect(await rejection(ask(openai, 'down'))).toBeInstanceOf(InternalServerError);
    await new Promise((r) => setTimeout(r, 320));
    await expect(ask(openai, 'up')).resolves.toMatchObject({ object: 'chat.completion' });
    server.setConfig({ outage: { status: 429 } });
    const limited = (await rejection(ask(openai, 'busy'))) as RateLimitError;
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.headers.get('retry-after')).toBe('1');
    server.setConfig({ outage: null });
    await expect(ask(openai, 'up')).resolves.toMatchObject({ object: 'chat.completion' });
  });

  it('injects configured failures at the configured rate', async () => {
    server.setConfig({ failures: [{ rate: 1, status: 503 }] });
    expect(await rejection(ask(openai, 'x'))).toBeInstanceOf(InternalServerError);
    server.setConfig({ failures: [{ rate: 0.3, status: 500 }, { rate: 0.2, status: 429, retryAfterMs: 100 }] });
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => ask(openai, 'x')));
    const by = server.stats().byStatus;
    expect(results).toHaveLength(200);
    // 200 draws: expect ~60 x 500, ~40 x 429, ~100 ok (bounds at about 4 standard deviations).
    expect(by['503']).toBe(1);
    expect(by['500']).toBeGreaterThan(34);
    expect(by['500']).toBeLessThan(86);
    expect(by['429']).toBeGreaterThan(17);
    expect(by['429']).toBeLessThan(63);
    expect(by['200']).toBe(200 - by['500']! - by['429']!);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(by['200']!);
  });

  it('refuses an invalid config change and keeps the old one', () => {
    expect(() => server.setConfig({ latencyMs: -1 })).toThrow(/invalid fake LLM config/);
    expect(server.config().latencyMs).toBe(0);
  });

  it('holds 1,000 concurrent requests open at once and answers them all', async () => {
    // A latency long enough that the client (SDK + 1,000 new sockets in this same process, on two
    // shared cores) has sent them all before the first answers.
    server.setConfig({ latencyMs: 3000 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => ask(openai, `concurrent ${i}`)));
    const elapsed = Date.now() - started;
    expect(results.every((r) => r.choices[0]?.finish_reason === 'stop')).toBe(true);
    const stats = server.stats();
    expect(stats.byStatus).toEqual({ '200': 1000 });
    expect(stats.maxConcurrent).toBeGreaterThanOrEqual(900);
    // Sequential would take 3,000 s; concurrent costs about one latency plus overhead.
    expect(elapsed).toBeLessThan(12_000);
  });
});

describe('fake LLM server options', () => {
  it('checks the API key when one is configured', async () => {
    const server = await createFakeLlmServer({ apiKey: 'sk-right' });
    try {
      const err = await rejection(ask(client(server, { apiKey: 'sk-wrong' }), 'hi'));
      expect(err).toBeInstanceOf(AuthenticationError);
      await expect(ask(client(server, { apiKey: 'sk-right' }), 'hi')).resolves.toMatchObject({ object: 'chat.completion' });
      expect(server.stats().byStatus).toEqual({ '200': 1, '401': 1 });
    } finally {
      await server.close();
    }
  });

  it('with strictModels answers 404 model_not_found for unknown models', async () => {
    const server = await createFakeLlmServer({ strictModels: true, models: ['only-model'] });
    try {
      const err = await rejection(ask(client(server), 'hi', 'gpt-4o'));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).code).toBe('model_not_found');
      await expect(ask(client(server), 'hi', 'only-model')).resolves.toMatchObject({ model: 'only-model' });
    } finally {
      await server.close();
    }
  });

  it('close() ends hanging requests instead of waiting for them', async () => {
    const server = await createFakeLlmServer();
    const pending = rejection(ask(client(server, { timeout: 30_000 }), '[[hang]]'));
    await expect.poll(() => server.stats().hanging).toBe(1);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('rejects an invalid configuration with every problem named', async () => {
    await expect(createFakeLlmServer({ rpm: -5, jitterMs: 1.5 })).rejects.toThrow(/rpm[\s\S]*jitterMs|jitterMs[\s\S]*rpm/);
  });
});

describe('bin/fake-llm.js', () => {
  it('runs standalone with env latency, serves the SDK and stops on SIGTERM with its counters', async () => {
    const bin = fileURLToPath(new URL('../../bin/fake-llm.js', import.meta.url));
    const child = spawn(process.execPath, [bin, '--port', '0', '--rpm', '100'], {
      env: { ...process.env, FAKE_LLM_LATENCY_MS: '150' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 10_000 }).toMatch(/listening on (http:\/\/\S+\/v1)/);
      expect(out).toContain('latency 150 ms, rpm 100');
      const url = /listening on (http:\/\/\S+\/v1)/.exec(out)![1]!;
      const openai = new OpenAI({ baseURL: url, apiKey: 'k', maxRetries: 0 });
      const t = Date.now();
      const res = await ask(openai, 'from the bin');
      expect(Date.now() - t).toBeGreaterThanOrEqual(145);
      expect(res.choices[0]?.message.content).toBe('fake-llm reply to: "from the bin"');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(out).toMatch(/SIGTERM, stopping; stats \{"requests":1,"completed":1/);
  });
});
