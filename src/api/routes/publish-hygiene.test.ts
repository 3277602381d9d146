import { describe, expect, it } from 'vitest';
import { topologySchema } from '../../config/topology-schema.ts';
import { chatJob, createFakePublisher, createTestApp, post } from '../api-test-kit.test-support.ts';

const RESERVED = ['CC', 'bcc', 'Bcc', 'x-death', 'x-delay', 'X-Match', 'x-deduplication-header', 'x-first-death-queue', 'x-delivery-count', 'x-warren-route', 'x-stream-filter-value', 'timestamp_in_ms', 'traceparent'];

async function errorOf(res: Response): Promise<{ code: string; message: string; details: any }> {
  return ((await res.json()) as { error: { code: string; message: string; details: any } }).error;
}

describe('POST /v1/publish/{exchange}: headers', () => {
  it('refuses every broker-read or warren header with a 400 naming each field, and publishes nothing', async () => {
    const t = createTestApp();
    const headers = Object.fromEntries([...RESERVED.map((h) => [h, 'v']), ['format', 'pdf']]);
    const res = await t.app.request('/v1/publish/documents', post({ headers, payload: {} }));
    expect(res.status).toBe(400);
    const err = await errorOf(res);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.map((d: { path: string }) => d.path)).toEqual(RESERVED.map((h) => `headers.${h}`));
    expect(t.publisher.published).toEqual([]);
  });

  it('400 HEADERS_TOO_LARGE above the encoded-size cap (it was a 503 from amqplib at 64 KiB)', async () => {
    const t = createTestApp();
    const big = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`h${i}`, 'y'.repeat(4096)]));
    const res = await t.app.request('/v1/publish/documents', post({ headers: big, payload: {} }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'HEADERS_TOO_LARGE', details: [{ path: 'headers' }] });
    const small = createTestApp({ limits: { maxPublishHeaderBytes: 100 } });
    const over = await small.app.request('/v1/publish/documents', post({ headers: { a: 'x'.repeat(90) }, payload: {} }));
    expect(over.status).toBe(400);
    expect((await small.app.request('/v1/publish/documents', post({ headers: { a: 'x'.repeat(80) }, payload: {} }))).status).toBe(202);
    expect(t.publisher.published).toEqual([]);
  });

  it.each([
    ['a routing key over 255 bytes of UTF-8', { routingKey: 'é'.repeat(200), payload: {} }, 'routingKey'],
    ['a header name over 255 bytes of UTF-8', { headers: { ['é'.repeat(200)]: 1 }, payload: {} }, `headers.${'é'.repeat(200)}`],
    ['a header number amqplib cannot encode', { headers: { n: -1e20 }, payload: {} }, 'headers.n'],
  ])('400 for %s (amqplib threw on it: 503)', async (_name, body, path) => {
    const t = createTestApp();
    const res = await t.app.request('/v1/publish/documents', post(body));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).details.map((d: { path: string }) => d.path)).toEqual([path]);
    expect(t.publisher.published).toEqual([]);
  });
});

describe('POST /v1/publish/{exchange}: exchanges only warren publishes to', () => {
  const topology = topologySchema.parse({
    version: 1,
    exchanges: { jobs: { type: 'direct', alternateExchange: 'spill' }, spill: { type: 'fanout' }, dlx: { type: 'direct' }, results: { type: 'fanout' }, side: { type: 'fanout', internal: true } },
    queues: { work: { deadLetter: { exchange: 'dlx' } } },
    routes: { task: { exchange: 'jobs', routingKey: 'default', schema: 'task' } },
    consumers: { w: { queue: 'work', handler: 'echo-task', results: { exchange: 'results' } } },
    jobEvents: { exchange: 'warren.events', stream: 'warren.events.log' },
  });

  it.each([
    ['dlx', 403, 'EXCHANGE_RESERVED', /a dead-letter exchange/],
    ['results', 403, 'EXCHANGE_RESERVED', /a results exchange/],
    ['spill', 403, 'EXCHANGE_RESERVED', /an alternate exchange/],
    ['warren.events', 404, 'EXCHANGE_UNKNOWN', /not a publishable exchange/],
    ['side', 404, 'EXCHANGE_UNKNOWN', /not a publishable exchange/],
  ] as const)("'%s' is refused even to a '*' key", async (exchange, status, code, message) => {
    const t = createTestApp({ topology });
    const res = await t.app.request(`/v1/publish/${exchange}`, post({ payload: {} }));
    expect(res.status).toBe(status);
    const err = await errorOf(res);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(t.publisher.published).toEqual([]);
  });

  it('the others stay publishable', async () => {
    const t = createTestApp({ topology });
    expect((await t.app.request('/v1/publish/jobs', post({ routingKey: 'default', payload: {} }))).status).toBe(202);
  });
});

describe('client-header messages, batches and single route jobs take different publishers', () => {
  it('POST /v1/publish goes through exchangePublisher, batches through batchPublisher, single jobs through publisher', async () => {
    const exchangePublisher = createFakePublisher();
    const batchPublisher = createFakePublisher();
    const t = createTestApp({ exchangePublisher, batchPublisher });
    expect((await t.app.request('/v1/publish/documents', post({ headers: { format: 'pdf' }, payload: {} }))).status).toBe(202);
    expect((await t.app.request('/v1/jobs/chat', post(chatJob()))).status).toBe(202);
    expect((await t.app.request('/v1/jobs/task/batch', post([{ type: 'a' }, { type: 'b' }]))).status).toBe(202);
    expect(exchangePublisher.published.map((p) => p.exchange)).toEqual(['documents']);
    expect(batchPublisher.published.map((p) => p.exchange)).toEqual(['tasks', 'tasks']);
    expect(t.publisher.published.map((p) => p.exchange)).toEqual(['llm.jobs']);
  });
});
