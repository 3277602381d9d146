import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/jobs/headers.ts';
import { createFakeLlmServer, type FakeLlmServer } from '../../fake-llm/index.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { body, createWorkerHarness, header, type Collector, type WorkerHarness } from './helpers/worker-harness.ts';

// Every row of the disposition table, against the real broker, the fake LLM
// and the real openai SDK. Tiers are short (200 ms / 500 ms) to keep it quick.
const API_KEY = 'sk-test-secret-key-1234567890';

function topology(fakeUrl: string) {
  const dlq = { exchange: 'dlx', routingKey: 'dead' };
  return () => ({
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' }, results: { type: 'fanout' } },
    queues: {
      chat: { type: 'quorum', deadLetter: dlq, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish', deliveryLimit: 10, retry: 'fast' },
      'chat.large': { type: 'classic', deadLetter: dlq },
      'chat.noconn': { type: 'classic', deadLetter: dlq, retry: 'fast' },
      tasks: { type: 'classic', deadLetter: dlq, retry: 'fast' },
      'tasks.once': { type: 'classic', deadLetter: dlq },
      dead: { type: 'classic' },
      'results.q': { type: 'classic' },
    },
    bindings: [
      { source: 'jobs', queue: 'chat', routingKey: 'chat' },
      { source: 'jobs', queue: 'chat.large', routingKey: 'chat.large' },
      { source: 'jobs', queue: 'chat.noconn', routingKey: 'chat.noconn' },
      { source: 'jobs', queue: 'tasks', routingKey: 'task' },
      { source: 'jobs', queue: 'tasks.once', routingKey: 'task.once' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
      { source: 'results', queue: 'results.q' },
    ],
    retryPolicies: { fast: { attempts: 3, backoff: ['200ms', '500ms'], jitter: 0 } },
    routes: {
      chat: { exchange: 'jobs', routingKey: 'chat', schema: 'chat-completion' },
      'chat-large': { exchange: 'jobs', routingKey: 'chat.large', schema: 'chat-completion' },
      'chat-noconn': { exchange: 'jobs', routingKey: 'chat.noconn', schema: 'chat-completion' },
      task: { exchange: 'jobs', routingKey: 'task', schema: 'task' },
      'task-once': { exchange: 'jobs', routingKey: 'task.once', schema: 'task' },
    },
    providers: {
      fake: { baseURL: fakeUrl, apiKey: API_KEY, timeout: '5s' },
      // Nothing listens on port 9 (discard): every call is a connection error.
      nowhere: { baseURL: 'http://127.0.0.1:9/v1', timeout: '1s' },
    },
    consumers: {
      chat: {
        queue: 'chat',
        handler: 'chat-completion',
        route: 'chat',
        provider: 'fake',
        prefetch: 20,
        timeout: '1500ms',
        results: { exchange: 'results' },
        onError: { 'context-length': { route: 'chat-large' }, unprocessable: 'retry' },
      },
      'chat-large': { queue: 'chat.large', handler: 'chat-completion', route: 'chat-large', provider: 'fake', model: 'gpt-4o', prefetch: 5, results: { exchange: 'results' } },
      'chat-noconn': { queue: 'chat.noconn', handler: 'chat-completion', route: 'chat-noconn', provider: 'nowhere', prefetch: 5 },
      tasks: { queue: 'tasks', handler: 'echo-task', route: 'task', prefetch: 20, timeout: '2s', results: { exchange: 'results' }, onError: { permanent: 'dead-letter' } },
      'tasks-once': { queue: 'tasks.once', handler: 'echo-task', route: 'task-once', prefetch: 5 },
    },
  });
}

const chat = (content: string, model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user', content }] });

describe('worker dispositions (real broker, fake LLM through the openai SDK)', () => {
  let fake: FakeLlmServer;
  let h: WorkerHarness;
  let worker: Worker;
  let dead: Collector;
  let results: Collector;

  beforeAll(async () => {
    fake = await createFakeLlmServer({ apiKey: API_KEY });
    h = await createWorkerHarness('worker-disp', topology(fake.url));
    dead = await h.collect('dead');
    results = await h.collect('results.q');
    // Every job announces `running` at once here (the default waits 250 ms), so event sequences can be asserted.
    worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), metricsPort: 0, runningEventAfterMs: 0 });
  });

  afterAll(async () => {
    await worker?.close(2_000);
    await h?.close();
    await fake?.close();
  });

  /** The job's result message, once its `succeeded` event is in too (events and results travel on different channels). */
  const resultOf = async (id: string) => {
    const [m] = await results.waitFor(1, 10_000, (x) => x.properties.correlationId === id);
    await h.events.waitFor((e) => e.jobId === id && e.status === 'succeeded');
    return body<{ jobId: string; consumer: string; attempt: number; result: Record<string, unknown>; usage?: Record<string, number> }>(m!);
  };
  const deadLetterOf = async (id: string, timeoutMs = 10_000) => (await dead.waitFor(1, timeoutMs, (m) => m.properties.messageId === id))[0]!;

  it('success: publishes the result and a succeeded event with usage, then acks', async () => {
    const id = await h.publish('chat', chat('hello warren'));
    const r = await resultOf(id);
    expect(r.consumer).toBe('chat');
    expect(r.attempt).toBe(1);
    expect(String(r.result.content)).toContain('hello warren');
    expect(r.usage?.totalTokens).toBeGreaterThan(0);
    const [ev] = await h.events.waitFor((e) => e.jobId === id && e.status === 'succeeded');
    expect(ev?.usage?.promptTokens).toBeGreaterThan(0);
    expect(h.events.forJob(id).map((e) => e.status)).toEqual(['running', 'succeeded']);
    expect((await h.ch.checkQueue('chat')).messageCount).toBe(0);
  });

  it('the event ending an attempt says how long the handler ran (a quick job has no `running` event to say when it started)', async () => {
    const id = await h.publish('chat', chat(`[[delay:300]] take your time ${Date.now()}`));
    const [ev] = await h.events.waitFor((e) => e.jobId === id && e.status === 'succeeded');
    // The LLM call alone took 300 ms; the handler a little more, far less than the test's patience.
    expect(ev?.durationMs).toBeGreaterThanOrEqual(300);
    expect(ev?.durationMs).toBeLessThan(5_000);
    const failed = await h.publish('chat', chat(`[[delay:200]] [[fail:400]] bad request ${Date.now()}`));
    const [dl] = await h.events.waitFor((e) => e.jobId === failed && e.status === 'dead-lettered');
    expect(dl?.durationMs).toBeGreaterThanOrEqual(200);
  });

  it('429 with Retry-After: waits at least as long as the provider asked, attempt counted in x-warren-attempt', async () => {
    // 350 ms fits a tier (500 ms, shortened by a per-message expiration).
    const short = await h.publish('chat', chat(`[[fail-first:1:429:retry-after-ms=350]] slow down ${Date.now()}`));
    expect((await resultOf(short)).attempt).toBe(2);
    const ev = h.events.forJob(short).find((e) => e.status === 'retrying');
    expect([ev?.error?.class, ev?.retryInMs]).toEqual(['rate-limited', 350]);
    let runs = await h.events.waitFor((e) => e.jobId === short && e.status === 'running', 5_000, 2);
    expect(runs.map((e) => e.attempt)).toEqual([1, 2]);
    expect(Date.parse(runs[1]!.at) - Date.parse(runs[0]!.at)).toBeGreaterThanOrEqual(350);

    // 1 s is longer than the largest tier (500 ms): the job comes back early and the consumer's
    // rate-limit pause holds it until the provider's window allows.
    const long = await h.publish('chat', chat(`[[fail-first:1:429:retry-after=1]] slow down ${Date.now()}`));
    expect((await resultOf(long)).attempt).toBe(2);
    expect(h.events.forJob(long).find((e) => e.status === 'retrying')?.retryInMs).toBe(500);
    runs = await h.events.waitFor((e) => e.jobId === long && e.status === 'running', 5_000, 2);
    expect(Date.parse(runs[1]!.at) - Date.parse(runs[0]!.at)).toBeGreaterThanOrEqual(1000);
  });

  it('5xx: retried through the backoff tiers (200 ms then 500 ms) and then succeeds', async () => {
    const id = await h.publish('chat', chat(`[[fail-first:2:500]] flaky ${Date.now()}`));
    const r = await resultOf(id);
    expect(r.attempt).toBe(3);
    const evs = h.events.forJob(id);
    expect(evs.filter((e) => e.status === 'retrying').map((e) => [e.error?.class, e.retryInMs])).toEqual([
      ['server-error', 200],
      ['server-error', 500],
    ]);
    const runs = evs.filter((e) => e.status === 'running').map((e) => Date.parse(e.at));
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(200);
    expect(runs[2]! - runs[1]!).toBeGreaterThanOrEqual(500);
  });

  it('5xx every time: dead-lettered with attempts-exhausted after the policy attempts', async () => {
    const id = await h.publish('chat', chat(`[[fail:503:retry-after=none]] down ${Date.now()}`));
    const m = await deadLetterOf(id);
    expect(header(m, HEADERS.reason)).toBe('attempts-exhausted');
    expect(header(m, HEADERS.errorClass)).toBe('server-error');
    expect(header(m, HEADERS.attempts)).toBe('3');
    expect(header(m, HEADERS.attempt)).toBe('3');
  });

  it('timeout: a hanging call is aborted at the consumer timeout and retried', async () => {
    const id = await h.publish('chat', chat(`[[hang]] ${Date.now()}`));
    const m = await deadLetterOf(id, 15_000);
    expect(header(m, HEADERS.errorClass)).toBe('timeout');
    expect(header(m, HEADERS.reason)).toBe('attempts-exhausted');
    expect(h.events.forJob(id).filter((e) => e.status === 'retrying')).toHaveLength(2);
    // The SDK call was really aborted (the fake saw the client go away), not left hanging.
    expect(fake.stats().hanging).toBe(0);
  });

  it('connection errors are retried, then dead-lettered', async () => {
    const id = await h.publish('chat-noconn', chat('anyone there?'));
    const m = await deadLetterOf(id);
    expect(header(m, HEADERS.errorClass)).toBe('connection');
    expect(header(m, HEADERS.reason)).toBe('attempts-exhausted');
    expect(header(m, HEADERS.attempts)).toBe('3');
  });

  it.each([
    ['[[fail:400]]', 'bad-request'],
    ['[[fail:401]]', 'auth'],
    ['[[fail:403]]', 'auth'],
    ['[[fail:404]]', 'not-found'],
    ['[[fail:400:content-filter]]', 'content-filter'],
    ['[[content-filter]]', 'content-filter'],
  ])('%s: dead-lettered at once as %s', async (marker, cls) => {
    const before = fake.stats().requests;
    const id = await h.publish('chat', chat(`${marker} ${Date.now()}`));
    const m = await deadLetterOf(id);
    expect(header(m, HEADERS.errorClass)).toBe(cls);
    expect(header(m, HEADERS.reason)).toBe(cls);
    expect(header(m, HEADERS.attempts)).toBe('1');
    expect(fake.stats().requests - before).toBe(1);
    await h.events.waitFor((e) => e.jobId === id && e.status === 'dead-lettered');
    expect(h.events.forJob(id).map((e) => e.status)).toEqual(['running', 'dead-lettered']);
  });

  it('onError override: 422 is retried on this consumer instead of dead-lettered', async () => {
    const id = await h.publish('chat', chat(`[[fail-first:1:422]] ${Date.now()}`));
    const r = await resultOf(id);
    expect(r.attempt).toBe(2);
    // The events come through the job-events stream, which may reach this observer after the result.
    const [retrying] = await h.events.waitFor((e) => e.jobId === id && e.status === 'retrying');
    expect(retrying?.error?.class).toBe('unprocessable');
  });

  it('onError override: context-length forwards the job to its fallback route', async () => {
    // fail-first counts per model and prompt: the fallback's gpt-4o call is the second one and succeeds.
    const id = await h.publish('chat', chat(`[[fail-first:1:400:context-length]] long ${Date.now()}`, 'gpt-4o'));
    const r = await resultOf(id);
    expect(r.consumer).toBe('chat-large');
    expect(r.attempt).toBe(1);
    const [forwarded] = await h.events.waitFor((e) => e.jobId === id && e.status === 'retrying');
    expect(forwarded?.route).toBe('chat-large');
    expect(forwarded?.error?.class).toBe('context-length');
  });

  it("a consumer's forced model wins over the job's", async () => {
    const id = await h.publish('chat-large', chat('which model?', 'gpt-4o-mini'));
    const r = await resultOf(id);
    expect(r.result.model).toBe('gpt-4o');
  });

  it('dead letters keep body and properties and explain themselves, with secrets scrubbed', async () => {
    const payload = { type: 'report', input: { fail: 'permanent', message: `upstream said: invalid key ${API_KEY} (Bearer abcdefghijklmnopqrstuv)` } };
    const id = await h.publish('task', payload, { headers: { 'x-custom': 'kept' } });
    const m = await deadLetterOf(id);
    expect(JSON.parse(m.content.toString())).toEqual(payload);
    expect(m.properties.messageId).toBe(id);
    expect(m.properties.contentType).toBe('application/json');
    expect(m.properties.deliveryMode).toBe(2);
    expect(header(m, 'x-custom')).toBe('kept');
    expect(header(m, 'traceparent')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(header(m, HEADERS.errorClass)).toBe('permanent');
    expect(header(m, HEADERS.reason)).toBe('permanent');
    expect(header(m, HEADERS.attempts)).toBe('1');
    expect(header(m, HEADERS.originExchange)).toBe('jobs');
    expect(header(m, HEADERS.originRoutingKey)).toBe('task');
    expect(header(m, HEADERS.originQueue)).toBe('tasks');
    expect(header(m, HEADERS.route)).toBe('task');
    expect(Date.now() - Date.parse(header(m, HEADERS.failedAt) ?? '')).toBeLessThan(60_000);
    const msg = header(m, HEADERS.errorMessage) ?? '';
    expect(msg).toContain('upstream said: invalid key');
    expect(msg).not.toContain(API_KEY);
    expect(msg).not.toContain('abcdefghijklmnopqrstuv');
    expect(m.fields.routingKey).toBe('dead');
    expect(m.fields.exchange).toBe('dlx');
  });

  it('TransientJobError retries (honouring its retryAfterMs) and an unknown error retries until attempts run out', async () => {
    const ok = await h.publish('task', { type: 't', input: { failUntilAttempt: 2 } });
    expect((await resultOf(ok)).attempt).toBe(2);
    expect(h.events.forJob(ok).find((e) => e.status === 'retrying')?.error?.class).toBe('transient');

    const crash = await h.publish('task', { type: 't', input: { fail: 'crash', message: 'TypeError: x is undefined' } });
    const m = await deadLetterOf(crash);
    expect(header(m, HEADERS.errorClass)).toBe('unknown');
    expect(h.events.forJob(crash).filter((e) => e.status === 'retrying').map((e) => e.error?.class)).toEqual(['unknown', 'unknown']);
    expect(header(m, HEADERS.reason)).toBe('attempts-exhausted');
    expect(header(m, HEADERS.errorMessage)).toBe('TypeError: x is undefined');

    const waited = await h.publish('task', { type: 't', input: { fail: 'transient', retryAfterMs: 400 } });
    await deadLetterOf(waited);
    // Attempt 1 would wait 200 ms; the handler asked for 400 ms (the 500 ms tier, expiring after 400 ms).
    expect(h.events.forJob(waited).filter((e) => e.status === 'retrying').map((e) => e.retryInMs)).toEqual([400, 500]);
  });

  it('a handler publishes follow-up jobs with ctx.publish (validated, confirmed, with a queued event)', async () => {
    const id = await h.publish('task', { type: 'parent', input: { then: { route: 'task-once', payload: { type: 'child', input: { n: 1 } } } } });
    const r = await resultOf(id);
    const child = String((r.result as { followUp?: string }).followUp);
    expect(child).toMatch(/^[0-9a-f-]{36}$/);
    await h.events.waitFor((e) => e.jobId === child && e.status === 'succeeded');
    // `queued` goes out after the confirm and may land after the child's own events (the API's status index allows for that).
    await h.events.waitFor((e) => e.jobId === child && e.status === 'queued');
    expect(h.events.forJob(child).filter((e) => e.status !== 'running').map((e) => [e.status, e.route]).sort()).toEqual([
      ['queued', 'task-once'],
      ['succeeded', 'task-once'],
    ]);
    // A follow-up that fails its route's schema fails the parent for good.
    const bad = await h.publish('task', { type: 'parent', input: { then: { route: 'task-once', payload: { nope: true } } } });
    const m = await deadLetterOf(bad);
    expect(header(m, HEADERS.errorClass)).toBe('permanent');
    expect(header(m, HEADERS.errorMessage)).toMatch(/follow-up job for route 'task-once' does not match schema 'task'/);
  });

  it('a queue without retry policy dead-letters a retryable failure after its one attempt', async () => {
    const id = await h.publish('task-once', { type: 't', input: { fail: 'transient' } });
    const m = await deadLetterOf(id);
    expect(header(m, HEADERS.errorClass)).toBe('transient');
    expect(header(m, HEADERS.reason)).toBe('attempts-exhausted');
    expect(header(m, HEADERS.attempts)).toBe('1');
  });

  it('poison payloads (not JSON, or failing the schema) are dead-lettered on first delivery without running the handler', async () => {
    const before = fake.stats().requests;
    const notJson = await h.publish('chat', null, { raw: Buffer.from('{"model": "gpt-4o-mini", ') });
    const badSchema = await h.publish('chat', { model: 'gpt-4o-mini', messages: [], extra: 1 });
    for (const id of [notJson, badSchema]) {
      const m = await deadLetterOf(id);
      expect(header(m, HEADERS.reason)).toBe('invalid-payload');
      expect(header(m, HEADERS.errorClass)).toBe('invalid-payload');
      expect(header(m, HEADERS.attempts)).toBe('1');
      expect(m.fields.redelivered).toBe(false);
      await h.events.waitFor((e) => e.jobId === id && e.status === 'dead-lettered');
      expect(h.events.forJob(id).map((e) => e.status)).toEqual(['dead-lettered']);
    }
    expect(header((await deadLetterOf(notJson)), HEADERS.errorMessage)).toMatch(/^payload is not JSON/);
    expect(header((await deadLetterOf(badSchema)), HEADERS.errorMessage)).toMatch(/does not match schema 'chat-completion'/);
    expect(fake.stats().requests).toBe(before);
  });

  it('exposes metrics on /metrics', async () => {
    const text = await (await fetch(worker.metricsUrl!)).text();
    expect(text).toMatch(/warren_jobs_total\{consumer="chat",route="chat",outcome="succeeded"\} [1-9]/);
    expect(text).toMatch(/warren_job_retries_total\{consumer="chat",reason="server-error"\} [1-9]/);
    expect(text).toMatch(/warren_dead_letters_total\{consumer="chat",reason="invalid-payload"\} 2/);
    expect(text).toMatch(/warren_llm_request_duration_seconds_count\{provider="fake",model="gpt-4o-mini",status="200"\} [1-9]/);
    expect(text).toMatch(/warren_llm_tokens_total\{provider="fake",model="gpt-4o-mini",kind="completion"\} [1-9]/);
    expect(text).toMatch(/warren_job_handler_duration_seconds_bucket/);
    expect(text).toMatch(/warren_jobs_in_flight\{consumer="chat"\} 0/);
    expect(text).toMatch(/warren_worker_process_resident_memory_bytes/);
  });
});
