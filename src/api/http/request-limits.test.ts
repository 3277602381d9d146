import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../../broker/confirm-publisher.ts';
import { chatJob, createTestApp, get, post } from '../api-test-kit.test-support.ts';
import type { PublisherLike } from '../jobs/job-submitter.ts';

/** A publisher whose confirms wait until the test opens the gate: requests stay in progress. */
function gatedPublisher() {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const published: PublishRequest[] = [];
  const publisher: PublisherLike = {
    isReady: () => true,
    async publish(req) {
      published.push(req);
      await gate;
    },
  };
  return {
    publisher,
    published,
    release() {
      open();
      gate = new Promise<void>((r) => (open = r));
    },
  };
}

const CHAT_KEY = 'chat-key-0123456789';

/** A JSON POST with Content-Length, as a real client sends it (app.request does not set it). */
function sized(body: unknown, key?: string): RequestInit {
  const text = JSON.stringify(body);
  const init = post(text, key);
  return { ...init, headers: { ...(init.headers as Record<string, string>), 'content-length': String(Buffer.byteLength(text)) } };
}
const flush = () => new Promise((r) => setTimeout(r, 10));
/** Waits until `n` publishes reached the gated publisher (a loaded machine may take longer than one flush). */
async function publishedCount(gated: { published: unknown[] }, n: number): Promise<void> {
  const until = Date.now() + 5_000;
  while (gated.published.length < n && Date.now() < until) await flush();
}

async function expect429(res: Response, code: string, retryAfter: readonly [number, number] = [1, 3]): Promise<void> {
  expect(res.status).toBe(429);
  const seconds = Number(res.headers.get('retry-after'));
  expect(seconds).toBeGreaterThanOrEqual(retryAfter[0]);
  expect(seconds).toBeLessThanOrEqual(retryAfter[1]);
  const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).not.toBe('');
}

describe('per-key batch limit', () => {
  it('a key with its batches in progress gets 429 TOO_MANY_BATCHES; other keys do not; a finished batch frees its slot', async () => {
    const gated = gatedPublisher();
    const t = createTestApp({ publisher: gated.publisher, limits: { maxBatchesPerKey: 2 } });
    const running = [t.app.request('/v1/jobs/chat/batch', sized([chatJob()])), t.app.request('/v1/jobs/chat/batch', sized([chatJob()]))];
    await publishedCount(gated, 2);
    await expect429(await t.app.request('/v1/jobs/chat/batch', sized([chatJob()])), 'TOO_MANY_BATCHES');
    const otherKey = t.app.request('/v1/jobs/chat/batch', sized([chatJob()], CHAT_KEY));
    await publishedCount(gated, 3);
    await flush();
    expect(gated.published).toHaveLength(3);
    gated.release();
    expect((await Promise.all([...running, otherKey])).map((r) => r.status)).toEqual([202, 202, 202]);
    const again = t.app.request('/v1/jobs/chat/batch', sized([chatJob()]));
    await publishedCount(gated, 4);
    gated.release();
    expect((await again).status).toBe(202);
  });
});

describe('per-key batch byte rate', () => {
  it('429 BATCH_RATE_EXCEEDED with the Retry-After that makes room, for that key only', async () => {
    const t = createTestApp({ limits: { batchBytesPerSecondPerKey: 100, maxBatchBodyBytes: 1000, maxBodyBytes: 1000, bodyBudgetPerKeyBytes: 1000 } });
    const batch = [chatJob({ metadata: { pad: 'x'.repeat(500) } })];
    expect((await t.app.request('/v1/jobs/chat/batch', sized(batch))).status).toBe(202);
    const refused = await t.app.request('/v1/jobs/chat/batch', sized(batch));
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { error: { code: string } };
    expect(body.error.code).toBe('BATCH_RATE_EXCEEDED');
    // The first batch left 1000 - n bytes in the bucket; n more arrive at 100 B/s.
    const n = JSON.stringify(batch).length;
    const wait = Math.ceil((2 * n - 1000) / 100);
    // ... plus up to 2 s of jitter.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(wait);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(wait + 2);
    expect((await t.app.request('/v1/jobs/chat/batch', sized(batch, CHAT_KEY))).status).toBe(202);
  });
});

describe('per-key SSE limit', () => {
  it('429 TOO_MANY_STREAMS beyond the limit for that key only; a stream that ended frees its slot', async () => {
    const t = createTestApp({ limits: { maxStreamsPerKey: 2 } });
    // Owned by the default test key (env#2); the admin key reads every job and has slots of its own.
    t.index.apply({ jobId: 'j1', status: 'queued', attempt: 1, at: new Date().toISOString(), route: 'chat', owner: 'env#2' });
    const open = [await t.app.request('/v1/jobs/j1/events', get()), await t.app.request('/v1/jobs/j1/events', get())];
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    await expect429(await t.app.request('/v1/jobs/j1/events', get()), 'TOO_MANY_STREAMS', [5, 15]);
    const other = await t.app.request('/v1/jobs/j1/events', get('admin-key-0123456789'));
    expect(other.status).toBe(200);
    t.index.apply({ jobId: 'j1', status: 'succeeded', attempt: 1, at: new Date().toISOString(), result: {} });
    await Promise.all([...open, other].map((r) => r.text()));
    expect((await t.app.request('/v1/jobs/j1/events', get())).status).toBe(200);
  });
});

describe('in-flight body budget', () => {
  const limits = { maxBodyBytes: 1000, maxBatchBodyBytes: 1000, bodyBudgetPerKeyBytes: 1000, bodyBudgetBytes: 1500 };
  const job = (bytes: number) => chatJob({ metadata: { pad: 'x'.repeat(bytes - JSON.stringify(chatJob({ metadata: { pad: '' } })).length) } });

  it("429 BODY_BUDGET_EXCEEDED over the key's share or the total, before the body is read; bytes come back when the response is ready", async () => {
    const gated = gatedPublisher();
    const t = createTestApp({ publisher: gated.publisher, limits });
    expect(JSON.stringify(job(800)).length).toBe(800);
    const first = t.app.request('/v1/jobs/chat', sized(job(800)));
    await flush();
    const perKey = await t.app.request('/v1/jobs/chat', sized(job(300)));
    await expect429(perKey.clone(), 'BODY_BUDGET_EXCEEDED');
    expect(((await perKey.json()) as { error: { details: unknown } }).error.details).toEqual({ limit: 1000, scope: 'key' });
    const global = await t.app.request('/v1/jobs/chat', sized(job(800), CHAT_KEY));
    expect(((await global.json()) as { error: { details: unknown } }).error.details).toEqual({ limit: 1500, scope: 'global' });
    // Under both: admitted while the first is still in progress.
    const small = t.app.request('/v1/jobs/chat', sized(job(150)));
    await flush();
    expect(gated.published).toHaveLength(2);
    gated.release();
    expect((await first).status).toBe(202);
    expect((await small).status).toBe(202);
    const after = t.app.request('/v1/jobs/chat', sized(job(800), CHAT_KEY));
    await flush();
    gated.release();
    expect((await after).status).toBe(202);
  });

  it('a chunked body (no Content-Length) reserves the most it may be', async () => {
    const gated = gatedPublisher();
    const t = createTestApp({ publisher: gated.publisher, limits });
    const chunked = t.app.request('/v1/jobs/chat', post(job(100)));
    await flush();
    expect((await t.app.request('/v1/jobs/chat', sized(job(100)))).status).toBe(429);
    gated.release();
    expect((await chunked).status).toBe(202);
  });
});
