import { describe, expect, it } from 'vitest';
import { PublishBackpressureError, PublishRejectedError, PublishTimeoutError, UnroutableError, WarrenError } from '../errors/index.ts';
import { HEADERS } from '../jobs/headers.ts';
import { KEYS, chatJob, createTestApp, get, post } from './api-test-kit.test-support.ts';
import { parseApiKeysEnv } from './auth/api-keys.ts';

async function body(res: Response): Promise<any> {
  return res.json();
}

/** Name of the test kit's default key (`all-key-…`, the second entry of KEYS): the owner of the jobs it submits. */
const DEFAULT_KEY_NAME = 'env#2';

describe('POST /v1/jobs/{route}', () => {
  it('publishes the request body as sent when validation leaves the payload unchanged', async () => {
    const t = createTestApp();
    const sent = '{ "messages": [ {"role":"user","content":"h\\u00e9llo"} ],\n  "model": "gpt-4o-mini", "priority": "batch" }';
    const res = await t.app.request('/v1/jobs/chat', post(sent));
    expect(res.status).toBe(202);
    const msg = t.publisher.published[0]!;
    expect(msg.content.toString('utf8')).toBe(sent);
    expect(msg.routingKey).toBe('llm.batch.chat');
  });

  it('publishes what validation made of the payload when it changed it (defaults filled in)', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/task', post('{"type": "resize"}'));
    expect(res.status).toBe(202);
    expect(JSON.parse(t.publisher.published[0]!.content.toString('utf8'))).toEqual({ type: 'resize', input: {} });
  });

  it.each([
    ['a byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(chatJob()))]), 'hello'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"a'), Buffer.from([0xff]), Buffer.from('b"}]}')]), 'a\ufffdb'],
  ])('re-serialises a body with %s, so every consumer reads the payload the API validated', async (_name, bytes, content) => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat', { ...post(''), body: bytes });
    expect(res.status).toBe(202);
    const published = t.publisher.published[0]!.content;
    expect(published.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
    expect((JSON.parse(published.toString('utf8')) as { messages: { content: string }[] }).messages[0]!.content).toBe(content);
  });

  it('answers 202 after the publish resolved, with the message built as the contract says', async () => {
    const t = createTestApp();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.app.request('/v1/jobs/chat', post(chatJob({ priority: 'realtime' }), undefined, { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-correlation-id': 'corr-1' }));
    expect(res.status).toBe(202);
    const b = await body(res);
    expect(b).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), route: 'chat', status: 'queued' });
    expect(t.publisher.published).toHaveLength(1);
    const msg = t.publisher.published[0]!;
    expect(msg.exchange).toBe('llm.jobs');
    expect(msg.routingKey).toBe('llm.realtime.chat');
    expect(msg.timeoutMs).toBe(2000);
    expect(JSON.parse(msg.content.toString())).toEqual(chatJob({ priority: 'realtime' }));
    expect(msg.properties).toMatchObject({ persistent: true, mandatory: true, messageId: b.id, correlationId: 'corr-1', contentType: 'application/json' });
    expect(typeof msg.properties?.timestamp).toBe('number');
    const h = msg.properties?.headers as Record<string, unknown>;
    expect(h[HEADERS.route]).toBe('chat');
    // Attempt and origin headers are written by the worker when it republishes; a first delivery has neither.
    expect(h[HEADERS.attempt]).toBeUndefined();
    expect(h[HEADERS.originExchange]).toBeUndefined();
    expect(h[HEADERS.originRoutingKey]).toBeUndefined();
    expect(h.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(h.traceparent).not.toContain('00f067aa0ba902b7');
  });

  it('fills the routing key from route defaults and starts a new trace when none is given', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat', post(chatJob()));
    expect(res.status).toBe(202);
    const msg = t.publisher.published[0]!;
    expect(msg.routingKey).toBe('llm.standard.chat');
    expect((msg.properties?.headers as Record<string, string>).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(msg.properties?.correlationId).toBe(msg.properties?.messageId);
  });

  it('emits the queued event after the confirm and answers status from this replica at once', async () => {
    const t = createTestApp();
    const { id } = await body(await t.app.request('/v1/jobs/chat', post(chatJob())));
    expect(t.events).toEqual([expect.objectContaining({ jobId: id, status: 'queued', route: 'chat', source: 'api' })]);
    const s = await t.app.request(`/v1/jobs/${id}`, get());
    expect(s.status).toBe(200);
    expect(await body(s)).toMatchObject({ id, route: 'chat', status: 'queued', attempts: [] });
  });

  it('does not emit a queued event when the publish failed', async () => {
    const t = createTestApp();
    t.publisher.fail = () => new PublishRejectedError('nack');
    expect((await t.app.request('/v1/jobs/chat', post(chatJob()))).status).toBe(503);
    expect(t.events).toEqual([]);
  });

  it('lists every failing field path on a schema violation', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat', post({ model: 7, messages: [{ role: 'robot' }, { role: 'user', content: 'x' }], temperature: 9, max_tokens: -1, extra: true }));
    expect(res.status).toBe(400);
    const b = await body(res);
    expect(b.error.code).toBe('VALIDATION_FAILED');
    expect(b.error.details.map((d: { path: string }) => d.path).sort()).toEqual(
      ['extra', 'max_tokens', 'messages.0.content', 'messages.0.role', 'model', 'temperature'].sort(),
    );
    expect(b.error.details.find((d: { path: string }) => d.path === 'messages.0.content').message).toBe('content is required (only an assistant message with tool_calls may leave it out)');
    expect(t.publisher.published).toEqual([]);
  });

  it('rejects a routing-key value that would change the topic routing', async () => {
    const t = createTestApp({
      topology: { ...createTestApp().deps.topology, routes: { free: { exchange: 'tasks', routingKey: 'x.{type}', schema: 'task', publishTimeout: 5000, defaults: {} } } },
    });
    const res = await t.app.request('/v1/jobs/free', post({ type: 'a.#' }));
    expect(res.status).toBe(400);
    expect((await body(res)).error.code).toBe('ROUTING_FIELD_INVALID');
  });

  it.each([
    ['unknown route', '/v1/jobs/nope', post(chatJob()), 404, 'ROUTE_NOT_FOUND'],
    ['wrong content type', '/v1/jobs/chat', { method: 'POST', headers: { authorization: 'Bearer all-key-0123456789', 'content-type': 'text/plain' }, body: '{}' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no content type', '/v1/jobs/chat', { method: 'POST', headers: { authorization: 'Bearer all-key-0123456789' }, body: '{}' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['malformed JSON', '/v1/jobs/chat', post('{"model": '), 400, 'MALFORMED_JSON'],
    ['empty body', '/v1/jobs/chat', post(''), 400, 'EMPTY_BODY'],
    ['JSON that is not an object', '/v1/jobs/chat', post('[1,2]'), 400, 'VALIDATION_FAILED'],
    ['invalid idempotency key', '/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'has space' }), 400, 'INVALID_IDEMPOTENCY_KEY'],
    ['invalid wait', '/v1/jobs/chat?wait=soon', post(chatJob()), 400, 'INVALID_WAIT'],
    ['wait too long', '/v1/jobs/chat?wait=1h', post(chatJob()), 400, 'INVALID_WAIT'],
    ['no key', '/v1/jobs/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 401, 'UNAUTHENTICATED'],
    ['wrong key', '/v1/jobs/chat', post(chatJob(), 'not-a-key'), 401, 'INVALID_API_KEY'],
    ['basic auth', '/v1/jobs/chat', { method: 'POST', headers: { authorization: 'Basic Zm9vOmJhcg==' } }, 401, 'UNAUTHENTICATED'],
    ['route not granted', '/v1/jobs/task', post({ type: 'x' }, 'chat-key-0123456789'), 403, 'FORBIDDEN'],
  ] as const)('%s -> %i %s', async (_name, path, init, status, code) => {
    const t = createTestApp();
    const res = await t.app.request(path, init as RequestInit);
    expect(res.status).toBe(status);
    const b = await body(res);
    expect(b.error.code).toBe(code);
    expect(typeof b.error.message).toBe('string');
    expect('details' in b.error).toBe(true);
    expect(t.publisher.published).toEqual([]);
    if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Bearer realm="warren"');
  });

  it('413 for a body over the limit, before reading it', async () => {
    const t = createTestApp({ limits: { maxBodyBytes: 1000 } });
    const res = await t.app.request('/v1/jobs/chat', post(chatJob({ messages: [{ role: 'user', content: 'x'.repeat(2000) }] })));
    expect(res.status).toBe(413);
    expect((await body(res)).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('413 from Content-Length alone, and 400 for a malformed Content-Length', async () => {
    const t = createTestApp({ limits: { maxBodyBytes: 1000 } });
    const big = JSON.stringify(chatJob({ messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    const res = await t.app.request('/v1/jobs/chat', post(big, undefined, { 'content-length': String(Buffer.byteLength(big)) }));
    expect(res.status).toBe(413);
    const small = JSON.stringify(chatJob());
    expect((await t.app.request('/v1/jobs/chat', post(small, undefined, { 'content-length': String(Buffer.byteLength(small)) }))).status).toBe(202);
    const bad = await t.app.request('/v1/jobs/chat', post(small, undefined, { 'content-length': '12abc' }));
    expect(bad.status).toBe(400);
    expect((await body(bad)).error.code).toBe('BAD_CONTENT_LENGTH');
  });

  it('never echoes the presented key', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat', post(chatJob(), 'super-secret-guess'));
    expect(await res.text()).not.toContain('super-secret-guess');
  });

  it.each([
    ['unroutable', () => new UnroutableError('llm.jobs', 'llm.standard.chat'), 422, 'UNROUTABLE', undefined],
    ['nack', () => new PublishRejectedError('nack'), 503, 'PUBLISH_REJECTED', '5'],
    ['confirm timeout', () => new PublishTimeoutError('no confirm within 2000ms'), 503, 'PUBLISH_TIMEOUT', '2'],
    ['backpressure', () => new PublishBackpressureError('full'), 503, 'PUBLISH_BACKPRESSURE', '2'],
    ['missing exchange', () => new WarrenError('EXCHANGE_NOT_FOUND', "exchange 'llm.jobs' does not exist"), 503, 'EXCHANGE_NOT_FOUND', '2'],
  ] as const)('maps %s to %i %s', async (_n, make, status, code, retryAfter) => {
    const t = createTestApp();
    t.publisher.fail = make;
    const res = await t.app.request('/v1/jobs/chat', post(chatJob()));
    expect(res.status).toBe(status);
    expect(res.headers.get('retry-after') ?? undefined).toBe(retryAfter);
    const b = await body(res);
    expect(b.error.code).toBe(code);
    if (code === 'UNROUTABLE') {
      expect(b.error.message).toBe("route 'chat' published to exchange 'llm.jobs' with routing key 'llm.standard.chat', but no queue is bound for that key; nothing was queued");
      expect(b.error.details).toEqual({ route: 'chat', exchange: 'llm.jobs', routingKey: 'llm.standard.chat' });
    }
  });

  it('hides an unexpected error behind a 500 without internals', async () => {
    const t = createTestApp();
    t.publisher.fail = () => new Error('socket /var/run/secret-path exploded');
    const res = await t.app.request('/v1/jobs/chat', post(chatJob()));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('secret-path');
    expect(JSON.parse(text).error.code).toBe('INTERNAL_ERROR');
  });
});

describe('idempotency', () => {
  it('returns the first job for the same key and publishes once, also under concurrency', async () => {
    const t = createTestApp();
    const headers = { 'idempotency-key': 'order-42' };
    const [a, b] = await Promise.all([
      t.app.request('/v1/jobs/chat', post(chatJob(), undefined, headers)),
      t.app.request('/v1/jobs/chat', post(chatJob(), undefined, headers)),
    ]);
    const c = await t.app.request('/v1/jobs/chat', post(chatJob(), undefined, headers));
    const ids = [await body(a!), await body(b!), await body(c)].map((x) => x.id);
    expect(new Set(ids).size).toBe(1);
    expect([a!.status, b!.status, c.status]).toEqual([202, 202, 202]);
    expect(t.publisher.published).toHaveLength(1);
    expect(c.headers.get('idempotent-replayed')).toBe('true');
    expect(t.publisher.published[0]!.properties?.messageId).toBe(ids[0]);
  });

  it('derives the same id on another replica (deterministic), scoped per key and route', async () => {
    const one = createTestApp();
    const two = createTestApp();
    const h = { 'idempotency-key': 'k-1' };
    const a = await body(await one.app.request('/v1/jobs/chat', post(chatJob(), undefined, h)));
    const b = await body(await two.app.request('/v1/jobs/chat', post(chatJob(), undefined, h)));
    const otherKey = await body(await two.app.request('/v1/jobs/chat', post(chatJob(), 'admin-key-0123456789', h)));
    const otherRoute = await body(await two.app.request('/v1/jobs/task', post({ type: 't' }, undefined, h)));
    expect(a.id).toBe(b.id);
    expect(otherKey.id).not.toBe(a.id);
    expect(otherRoute.id).not.toBe(a.id);
  });

  it('replays a job known only from the stream (another replica published it)', async () => {
    const first = createTestApp();
    const { id } = await body(await first.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'x' })));
    const second = createTestApp();
    // What the stream brings: the first replica's `queued` (with its owner), then a worker's `running`.
    second.index.apply({ jobId: id, status: 'queued', attempt: 1, at: new Date().toISOString(), route: 'chat', owner: DEFAULT_KEY_NAME });
    second.index.apply({ jobId: id, status: 'running', attempt: 1, at: new Date().toISOString(), route: 'chat' });
    const res = await second.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'x' }));
    expect(await body(res)).toEqual({ id, route: 'chat', status: 'running' });
    expect(second.publisher.published).toEqual([]);
  });

  it('a failed first publish is not remembered: the retry publishes', async () => {
    const t = createTestApp();
    t.publisher.fail = () => new PublishTimeoutError('t');
    expect((await t.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'r' }))).status).toBe(503);
    t.publisher.fail = undefined;
    expect((await t.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'r' }))).status).toBe(202);
    expect(t.publisher.published).toHaveLength(1);
  });

  it('waits for the status index replay, and answers 503 if it does not finish in time', async () => {
    const { createJobStatusIndex } = await import('./status/job-status-index.ts');
    const index = createJobStatusIndex({ capacity: 10 });
    const fresh = createTestApp({ index });
    // Caught up in time: the publish goes ahead.
    setTimeout(() => index.markCaughtUp(), 50);
    expect((await fresh.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'p' }))).status).toBe(202);
    const stuck = createTestApp({ index: createJobStatusIndex({ capacity: 10 }) });
    const started = Date.now();
    const res = await stuck.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'q' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // the chat route's publishTimeout
    expect(res.status).toBe(503);
    expect((await body(res)).error.code).toBe('STATUS_INDEX_REPLAYING');
    expect(stuck.publisher.published).toEqual([]);
  });
});

describe('?wait', () => {
  it('returns 200 with the final status when the job ends within the wait', async () => {
    const t = createTestApp();
    t.publisher.publish = async (req) => {
      t.publisher.published.push(req);
      const id = req.properties?.messageId as string;
      setTimeout(() => {
        t.index.apply({ jobId: id, status: 'running', attempt: 1, at: new Date().toISOString() });
        t.index.apply({ jobId: id, status: 'succeeded', attempt: 1, at: new Date().toISOString(), result: { text: 'hi' } });
      }, 20);
    };
    const res = await t.app.request('/v1/jobs/chat?wait=5s', post(chatJob()));
    expect(res.status).toBe(200);
    expect(await body(res)).toMatchObject({ status: 'succeeded', result: { text: 'hi' }, attempts: [{ attempt: 1, status: 'succeeded' }] });
  });

  it('returns 202 with the current status when the wait runs out', async () => {
    const t = createTestApp();
    const started = Date.now();
    const res = await t.app.request('/v1/jobs/chat?wait=100ms', post(chatJob()));
    expect(res.status).toBe(202);
    expect((await body(res)).status).toBe('queued');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});

describe('batch', () => {
  it('all-or-nothing: one invalid job -> 400 naming it, nothing published', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat/batch', post({ jobs: [chatJob(), chatJob({ model: '' }), chatJob(), { messages: [] }] }));
    expect(res.status).toBe(400);
    const b = await body(res);
    expect(b.error.message).toBe('2 of 4 jobs are invalid; nothing was published');
    expect(b.error.details.map((d: { index: number; path: string }) => `${d.index}:${d.path}`).sort()).toEqual(['1:jobs.1.model', '3:jobs.3.messages', '3:jobs.3.model']);
    expect(t.publisher.published).toEqual([]);
  });

  it('all-or-nothing: all valid -> 202 with one id per job, in order', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat/batch', post([chatJob(), chatJob({ priority: 'batch' })]));
    expect(res.status).toBe(202);
    const b = await body(res);
    expect(b).toMatchObject({ route: 'chat', mode: 'all-or-nothing', accepted: 2, rejected: 0 });
    expect(b.jobs.map((j: { index: number; status: string }) => [j.index, j.status])).toEqual([[0, 'queued'], [1, 'queued']]);
    expect(t.publisher.published.map((p) => p.routingKey).sort()).toEqual(['llm.batch.chat', 'llm.standard.chat']);
    expect(t.events).toHaveLength(2);
  });

  it('all-or-nothing: broker refusals after validation -> the status of the failure, listing what was stored', async () => {
    const t = createTestApp();
    let n = 0;
    t.publisher.fail = () => (n++ === 1 ? new PublishRejectedError('nack') : undefined);
    const res = await t.app.request('/v1/jobs/chat/batch', post({ mode: 'all-or-nothing', jobs: [chatJob(), chatJob(), chatJob()] }));
    expect(res.status).toBe(503);
    const b = await body(res);
    expect(b.error.code).toBe('BATCH_INCOMPLETE');
    expect(b.error.details.accepted).toHaveLength(2);
    expect(b.error.details.failed).toEqual([expect.objectContaining({ index: 1, status: 'rejected', error: expect.objectContaining({ code: 'PUBLISH_REJECTED' }) })]);
  });

  it('all-or-nothing with an Idempotency-Key: the retry publishes only the missing jobs', async () => {
    const t = createTestApp();
    let n = 0;
    t.publisher.fail = () => (n++ === 1 ? new PublishTimeoutError('t') : undefined);
    const h = { 'idempotency-key': 'batch-7' };
    expect((await t.app.request('/v1/jobs/chat/batch', post([chatJob(), chatJob(), chatJob()], undefined, h))).status).toBe(503);
    expect(t.publisher.published).toHaveLength(2);
    const retry = await t.app.request('/v1/jobs/chat/batch', post([chatJob(), chatJob(), chatJob()], undefined, h));
    expect(retry.status).toBe(202);
    expect(t.publisher.published).toHaveLength(3);
    expect((await body(retry)).jobs.filter((j: { replayed?: boolean }) => j.replayed).length).toBe(2);
  });

  it('best-effort: publishes the valid ones and reports each', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat/batch?mode=best-effort', post([chatJob(), { model: 'x' }, chatJob()]));
    expect(res.status).toBe(207);
    const b = await body(res);
    expect(b).toMatchObject({ mode: 'best-effort', accepted: 2, rejected: 1 });
    expect(b.jobs[1]).toMatchObject({ index: 1, status: 'rejected', error: { code: 'VALIDATION_FAILED', details: [{ path: 'messages' }] } });
    expect(t.publisher.published).toHaveLength(2);
  });

  it.each([
    ['not an array', { jobs: 'x' }],
    ['empty', []],
    ['unknown key', { jobs: [chatJob()], extra: 1 }],
    ['bad mode', { mode: 'yolo', jobs: [chatJob()] }],
  ])('400 for a malformed batch (%s)', async (_n, b) => {
    const t = createTestApp();
    const res = await t.app.request('/v1/jobs/chat/batch', post(b));
    expect(res.status).toBe(400);
  });

  it('rejects more jobs than the limit', async () => {
    const t = createTestApp({ limits: { maxBatchItems: 3 } });
    const res = await t.app.request('/v1/jobs/chat/batch', post([chatJob(), chatJob(), chatJob(), chatJob()]));
    expect(res.status).toBe(400);
  });
});

describe('POST /v1/publish/{exchange}', () => {
  it('publishes the payload with the given headers and routing key', async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/publish/documents', post({ headers: { format: 'pdf', pages: 3 }, payload: { url: 'https://x/y.pdf' } }));
    expect(res.status).toBe(202);
    const b = await body(res);
    expect(b).toMatchObject({ exchange: 'documents', routingKey: '', status: 'queued' });
    const msg = t.publisher.published[0]!;
    expect(msg.exchange).toBe('documents');
    expect(JSON.parse(msg.content.toString())).toEqual({ url: 'https://x/y.pdf' });
    expect(msg.properties?.headers).toEqual({ format: 'pdf', pages: 3, traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
    expect(msg.properties?.messageId).toBe(b.id);
  });

  it.each([
    ['unknown exchange', '/v1/publish/nope', { payload: 1 }, 'all-key-0123456789', 404],
    ['internal exchange', '/v1/publish/hidden', { payload: 1 }, 'all-key-0123456789', 404],
    ['not granted', '/v1/publish/tasks', { payload: 1 }, 'chat-key-0123456789', 403],
    ['missing payload', '/v1/publish/tasks', { routingKey: 'default' }, 'all-key-0123456789', 400],
    ['reserved header', '/v1/publish/tasks', { payload: 1, headers: { 'x-warren-attempt': 9 } }, 'all-key-0123456789', 400],
    ['object header value', '/v1/publish/tasks', { payload: 1, headers: { a: { b: 1 } } }, 'all-key-0123456789', 400],
  ] as const)('%s', async (_n, path, b, key, status) => {
    const t = createTestApp();
    const res = await t.app.request(path, post(b, key));
    expect(res.status).toBe(status);
    expect(t.publisher.published).toEqual([]);
  });
});

describe('status', () => {
  it('404 for an unknown job, 400 for a malformed id, 503 while the index replays', async () => {
    const t = createTestApp();
    expect((await t.app.request('/v1/jobs/00000000-0000-0000-0000-000000000000', get())).status).toBe(404);
    expect((await t.app.request(`/v1/jobs/${'x'.repeat(300)}`, get())).status).toBe(400);
    const { createJobStatusIndex } = await import('./status/job-status-index.ts');
    const replaying = createTestApp({ index: createJobStatusIndex({ capacity: 10 }) });
    const r = await replaying.app.request('/v1/jobs/abc', get());
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
  });

  it('shows a job only to the key that submitted it, and to admin keys; others get the 404 of an unknown job', async () => {
    const t = createTestApp();
    const { id } = await body(await t.app.request('/v1/jobs/chat', post(chatJob(), 'chat-key-0123456789')));
    expect(t.index.ownerOf(id)).toBe('env#1');
    expect(t.events[0]).toMatchObject({ jobId: id, status: 'queued', owner: 'env#1' });
    expect((await t.app.request(`/v1/jobs/${id}`, get('chat-key-0123456789'))).status).toBe(200);
    // The all-routes key may publish to chat too: still not its job.
    const other = await t.app.request(`/v1/jobs/${id}`, get('all-key-0123456789'));
    expect(other.status).toBe(404);
    // Word for word what an unknown id gets, so a key can't probe for other keys' ids.
    const unknown = await body(await t.app.request('/v1/jobs/00000000-0000-4000-8000-000000000000', get('all-key-0123456789')));
    expect(await body(other)).toEqual({ error: { ...unknown.error, message: unknown.error.message.replace('00000000-0000-4000-8000-000000000000', id) } });
    expect((await t.app.request(`/v1/jobs/${id}/events`, get('all-key-0123456789'))).status).toBe(404);
    expect((await t.app.request(`/v1/jobs/${id}`, get('admin-key-0123456789'))).status).toBe(200);
    // A job the index knows no owner of (written before owners were recorded) is for keys that read all only.
    t.index.apply({ jobId: 'ownerless', status: 'succeeded', attempt: 1, at: new Date().toISOString(), route: 'chat' });
    expect((await t.app.request('/v1/jobs/ownerless', get('chat-key-0123456789'))).status).toBe(404);
    expect((await t.app.request('/v1/jobs/ownerless', get('admin-key-0123456789'))).status).toBe(200);
  });

  it("a raw publish to an exchange is the submitter's job: others (even with the same grant) get 404, admin keys 200", async () => {
    const t = createTestApp();
    const res = await t.app.request('/v1/publish/documents', post({ headers: { format: 'pdf' }, payload: { a: 1 } }, 'all-key-0123456789'));
    expect(res.status).toBe(202);
    const { id } = await body(res);
    expect(t.index.ownerOf(id)).toBe(DEFAULT_KEY_NAME);
    expect((await t.app.request(`/v1/jobs/${id}`, get('all-key-0123456789'))).status).toBe(200);
    expect((await t.app.request(`/v1/jobs/${id}`, get('chat-key-0123456789'))).status).toBe(404);
    expect((await t.app.request(`/v1/jobs/${id}`, get('admin-key-0123456789'))).status).toBe(200);
  });

  it('streams status changes as SSE until the job ends', async () => {
    const t = createTestApp();
    const at = () => new Date().toISOString();
    t.index.apply({ jobId: 'j1', status: 'queued', attempt: 1, at: at(), route: 'chat', owner: DEFAULT_KEY_NAME });
    const res = await t.app.request('/v1/jobs/j1/events', get());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    setTimeout(() => {
      t.index.apply({ jobId: 'j1', status: 'running', attempt: 1, at: at() });
      t.index.apply({ jobId: 'j1', status: 'retrying', attempt: 1, at: at(), error: { class: 'rate-limited', message: '429' }, retryInMs: 100 });
      t.index.apply({ jobId: 'j1', status: 'running', attempt: 2, at: at() });
      t.index.apply({ jobId: 'j1', status: 'succeeded', attempt: 2, at: at(), result: { ok: true } });
    }, 20);
    const text = await res.text(); // ends because the stream closes after 'succeeded'
    const events = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events).toEqual(['queued', 'running', 'retrying', 'running', 'succeeded']);
    const last = JSON.parse([...text.matchAll(/^data: (.+)$/gm)].at(-1)![1]!);
    expect(last).toMatchObject({ id: 'j1', status: 'succeeded', result: { ok: true }, attempts: [{ attempt: 1, status: 'retrying', error: { class: 'rate-limited' } }, { attempt: 2, status: 'succeeded' }] });
  });

  it('SSE for a finished job sends its state once and ends', async () => {
    const t = createTestApp();
    t.index.apply({ jobId: 'd1', status: 'queued', attempt: 1, at: new Date(Date.now() - 1000).toISOString(), owner: DEFAULT_KEY_NAME });
    t.index.apply({ jobId: 'd1', status: 'dead-lettered', attempt: 3, at: new Date().toISOString(), error: { class: 'bad-request', message: 'no' } });
    const text = await (await t.app.request('/v1/jobs/d1/events', get())).text();
    expect([...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['dead-lettered']);
  });
});

describe('meta endpoints', () => {
  it('healthz and readyz are open; readyz says which check fails', async () => {
    let connected = true;
    const t = createTestApp({ isBrokerConnected: () => connected });
    expect((await t.app.request('/healthz')).status).toBe(200);
    const ok = await t.app.request('/readyz');
    expect(ok.status).toBe(200);
    expect(await body(ok)).toEqual({ status: 'ready', checks: { broker: true, publisher: true, topology: true, statusIndex: true } });
    connected = false;
    const down = await t.app.request('/readyz');
    expect(down.status).toBe(503);
    expect((await body(down)).error).toMatchObject({ code: 'NOT_READY', message: 'not ready: broker' });
  });

  it('/v1/routes lists only the routes the key may publish to, with JSON Schemas', async () => {
    const t = createTestApp();
    const mine = await body(await t.app.request('/v1/routes', get('chat-key-0123456789')));
    expect(mine.routes.map((r: { name: string }) => r.name)).toEqual(['chat']);
    expect(mine.routes[0]).toMatchObject({ exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', publishTimeoutMs: 2000 });
    expect(mine.routes[0].payloadSchema.required).toEqual(['model', 'messages']);
    const all = await body(await t.app.request('/v1/routes', get()));
    expect(all.routes.map((r: { name: string }) => r.name)).toEqual(['chat', 'task']);
  });

  it('/metrics needs a key with the metrics (or admin) scope and exposes publish outcomes and latencies', async () => {
    const t = createTestApp({ authConfig: { mode: 'keys', keys: parseApiKeysEnv(`${KEYS};metrics-key-0123456789:task:metrics`) } });
    expect((await t.app.request('/metrics')).status).toBe(401);
    const denied = await t.app.request('/metrics', get('all-key-0123456789'));
    expect(denied.status).toBe(403);
    expect((await body(denied)).error).toMatchObject({ code: 'FORBIDDEN', message: "this API key lacks the 'metrics' scope" });
    expect((await t.app.request('/metrics', get('metrics-key-0123456789'))).status).toBe(200);
    await t.app.request('/v1/jobs/chat', post(chatJob()));
    t.publisher.fail = () => new UnroutableError('llm.jobs', 'k');
    await t.app.request('/v1/jobs/chat', post(chatJob()));
    await t.app.request('/v1/jobs/nope-route', post(chatJob()));
    const text = await (await t.app.request('/metrics', get('admin-key-0123456789'))).text();
    expect(text).toContain('warren_api_publishes_total{route="chat",outcome="accepted"} 1');
    expect(text).toContain('warren_api_publishes_total{route="chat",outcome="unroutable"} 1');
    expect(text).toMatch(/warren_api_confirm_latency_seconds_count\{route="chat"\} 1/);
    expect(text).toMatch(/warren_api_http_request_duration_seconds_count\{path="\/v1\/jobs\/:route",route="chat",method="POST",status="202"\} 1/);
    expect(text).toMatch(/warren_api_http_request_duration_seconds_count\{path="\/v1\/jobs\/:route",route="chat",method="POST",status="422"\} 1/);
    // An unknown route name never becomes a label value.
    expect(text).not.toContain('nope-route');
  });

  it('/openapi.json describes each route with its own payload schema', async () => {
    const t = createTestApp();
    const doc = await body(await t.app.request('/openapi.json', get()));
    expect(doc.openapi).toBe('3.1.0');
    const chat = doc.paths['/v1/jobs/chat'].post;
    expect(chat.requestBody.content['application/json'].schema.required).toEqual(['model', 'messages']);
    expect(Object.keys(chat.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '404', '413', '415', '422', '503']));
    expect(doc.paths['/v1/jobs/{id}/events']).toBeDefined();
    expect(doc.paths['/v1/publish/{exchange}'].post.parameters[0].schema.enum).toEqual(['llm.jobs', 'tasks', 'documents']);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const docs = await t.app.request('/docs', get());
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/openapi.json');
  });

  it('WARREN_AUTH=none: every endpoint works without a key', async () => {
    const t = createTestApp({ authConfig: { mode: 'none' } });
    const res = await t.app.request('/v1/jobs/task', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'x' }) });
    expect(res.status).toBe(202);
    expect((await t.app.request(`/v1/jobs/${(await body(res)).id}`)).status).toBe(200);
    t.index.apply({ jobId: 'ownerless', status: 'queued', attempt: 1, at: new Date().toISOString() });
    expect((await t.app.request('/v1/jobs/ownerless')).status).toBe(200);
    expect((await t.app.request('/metrics')).status).toBe(200);
  });
});

describe('SSE de-duplication', () => {
  it('does not repeat a message for an event that changes nothing', async () => {
    const t = createTestApp();
    const at = new Date().toISOString();
    t.index.apply({ jobId: 'dup', status: 'queued', attempt: 1, at, route: 'chat', owner: DEFAULT_KEY_NAME });
    const res = await t.app.request('/v1/jobs/dup/events', get());
    setTimeout(() => {
      // The same queued event again (as when this replica reads its own event back from the stream).
      t.index.apply({ jobId: 'dup', status: 'queued', attempt: 1, at, route: 'chat' });
      t.index.apply({ jobId: 'dup', status: 'succeeded', attempt: 1, at: new Date().toISOString() });
    }, 20);
    const text = await res.text();
    expect([...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['queued', 'succeeded']);
  });
});
