import { describe, expect, it } from 'vitest';
import { newJobId } from '../../jobs/job-id.ts';
import { chatJob, createTestApp, get, post, testTopology } from '../api-test-kit.test-support.ts';
import { JobHistoryError } from '../status/history-errors.ts';
import type { FindResult, HistoryState, JobHistory } from '../status/job-history.ts';
import type { ListPage, ListQuery } from '../status/job-listing.ts';
import type { StoredPayload } from '../../jobs/job-event-payload.ts';

/** A job history that answers from a table (the real one is tested against the broker). */
function fakeHistory(answer: (id: string) => FindResult | Error, page?: (q: ListQuery) => ListPage, stored?: (id: string) => StoredPayload | undefined): JobHistory & { asked: string[]; queries: ListQuery[] } {
  const asked: string[] = [];
  const queries: ListQuery[] = [];
  return {
    asked,
    queries,
    async find(id) {
      asked.push(id);
      const a = answer(id);
      if (a instanceof Error) throw a;
      return a;
    },
    async list(q) {
      queries.push(q);
      return page?.(q) ?? { jobs: [] };
    },
    async payload(id) {
      return stored?.(id);
    },
    state: () => ({ stream: true, indexed: true, checkpoints: true }) as HistoryState,
    waitUntilIndexed: async () => true,
    close: async () => undefined,
  };
}

async function json(res: Response): Promise<any> {
  return res.json();
}

const view = (id: string) => ({ id, route: 'chat', status: 'succeeded' as const, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:01.000Z', attempts: [] });

describe('GET /v1/jobs/{id} over the job history', () => {
  it('answers a job the cache does not hold from the history, to its owner only', async () => {
    const id = newJobId();
    const h = fakeHistory(() => ({ found: true, view: view(id), owner: 'env#1' }));
    const t = createTestApp({ history: h });
    const mine = await t.app.request(`/v1/jobs/${id}`, get('chat-key-0123456789'));
    expect(mine.status).toBe(200);
    expect(await json(mine)).toEqual(view(id));
    const theirs = await t.app.request(`/v1/jobs/${id}`, get('all-key-0123456789'));
    expect(theirs.status).toBe(404);
    expect((await json(theirs)).error.code).toBe('JOB_NOT_FOUND');
    expect((await t.app.request(`/v1/jobs/${id}`, get('admin-key-0123456789'))).status).toBe(200);
  });

  it('tells an expired time-ordered id from one that never existed', async () => {
    const oldestAt = '2026-01-01T00:00:00.000Z';
    const expiredId = newJobId(Date.parse(oldestAt) - 1000);
    const h = fakeHistory((id) => ({ found: false, expired: id === expiredId, oldestAt }));
    const t = createTestApp({ history: h });
    const expired = await t.app.request(`/v1/jobs/${expiredId}`, get());
    expect(expired.status).toBe(404);
    expect((await json(expired)).error).toMatchObject({ code: 'JOB_EXPIRED', details: { expired: true, oldestAt } });
    const never = await t.app.request(`/v1/jobs/${newJobId(Date.parse('2099-01-01'))}`, get());
    expect((await json(never)).error).toMatchObject({ code: 'JOB_NOT_FOUND', details: { expired: false, oldestAt } });
  });

  it('answers 400 for what is not a job id, without asking the history', async () => {
    const h = fakeHistory(() => new Error('not asked'));
    const t = createTestApp({ history: h });
    for (const bad of ['a%20b', 'x'.repeat(201), '%2E%2E%2Fetc']) {
      const res = await t.app.request(`/v1/jobs/${bad}`, get());
      expect(res.status, bad).toBe(400);
      expect((await json(res)).error.code).toBe('INVALID_JOB_ID');
    }
    expect(h.asked).toEqual([]);
  });

  it('maps a history that cannot tell yet to 503 with Retry-After', async () => {
    const t = createTestApp({ history: fakeHistory(() => new JobHistoryError('STATUS_HISTORY_INDEXING', 'indexing', { retryAfterS: 5 })) });
    const res = await t.app.request(`/v1/jobs/${newJobId()}`, get());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await json(res)).error.code).toBe('STATUS_HISTORY_INDEXING');
  });
});

describe('Idempotency-Key over the job history', () => {
  it('replays a job only the history knows, waiting while the history indexes', async () => {
    let calls = 0;
    const h = fakeHistory((id) => (++calls === 1 ? new JobHistoryError('STATUS_HISTORY_INDEXING', 'indexing') : { found: true, view: { ...view(id), status: 'queued' }, owner: 'env#2' }));
    const t = createTestApp({ history: h });
    const res = await t.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'k-1' }));
    expect(res.status).toBe(202);
    expect(res.headers.get('idempotent-replayed')).toBe('true');
    expect(t.publisher.published).toHaveLength(0);
    expect(calls).toBe(2);
  });

  it('publishes when the history does not hold the job', async () => {
    const t = createTestApp({ history: fakeHistory(() => ({ found: false, expired: false, oldestAt: undefined })) });
    const res = await t.app.request('/v1/jobs/chat', post(chatJob(), undefined, { 'idempotency-key': 'k-2' }));
    expect(res.status).toBe(202);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(t.publisher.published).toHaveLength(1);
  });
});

describe('GET /v1/jobs', () => {
  it('lists the jobs the index holds when there is no history: the key sees its own', async () => {
    const t = createTestApp();
    const a = await json(await t.app.request('/v1/jobs/chat', post(chatJob(), 'chat-key-0123456789')));
    const b = await json(await t.app.request('/v1/jobs/chat', post(chatJob())));
    const mine = await json(await t.app.request('/v1/jobs', get('chat-key-0123456789')));
    expect(mine.jobs.map((j: { id: string }) => j.id)).toEqual([a.id]);
    const admin = await json(await t.app.request('/v1/jobs?status=queued&route=chat', get('admin-key-0123456789')));
    expect(admin.jobs.map((j: { id: string }) => j.id).sort()).toEqual([a.id, b.id].sort());
    expect(admin.jobs[0]).toMatchObject({ route: 'chat', status: 'queued', attempts: 0 });
  });

  it("passes the query to the history, with the caller's visibility", async () => {
    const h = fakeHistory(() => new Error('unused'), () => ({ jobs: [], next: 'abc' }));
    const t = createTestApp({ history: h });
    const res = await t.app.request('/v1/jobs?route=chat&status=failed,dead-lettered&before=2026-01-02T00:00:00Z&after=2026-01-01T00:00:00Z&limit=20', get('chat-key-0123456789'));
    expect(await json(res)).toEqual({ jobs: [], next: 'abc' });
    const q = h.queries[0]!;
    expect(q).toMatchObject({ route: 'chat', limit: 20, before: { at: Date.parse('2026-01-02T00:00:00Z') }, after: Date.parse('2026-01-01T00:00:00Z') });
    expect([...q.statuses!]).toEqual(['failed', 'dead-lettered']);
    expect(q.visible('env#1')).toBe(true);
    expect(q.visible('env#2')).toBe(false);
    expect(q.visible(undefined)).toBe(false);
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=201', /limit/],
    ['limit=abc', /limit/],
    ['status=done', /status must be one or more of/],
    ['before=yesterday', /before must be an ISO 8601 time/],
    ['after=2026-13-45', /after must be an ISO 8601 time/],
  ])('answers 400 INVALID_QUERY for %s', async (query, message) => {
    const t = createTestApp();
    const res = await t.app.request(`/v1/jobs?${query}`, get());
    expect(res.status).toBe(400);
    const err = (await json(res)).error;
    expect(err.code).toBe('INVALID_QUERY');
    expect(err.message).toMatch(message);
  });
});

describe('GET /v1/jobs/{id}/payload', () => {
  const whole: StoredPayload = { text: '{"messages":[{"role":"user","content":"<script>x</script>"}]}', storedBytes: 61, totalBytes: 61, truncated: false };

  it("gives the owner (and read-all keys) the stored payload as a download; another key gets the unknown job's 404", async () => {
    const id = newJobId();
    const t = createTestApp({ history: fakeHistory(() => ({ found: true, view: view(id), owner: 'env#1' }), undefined, () => whole) });
    const mine = await t.app.request(`/v1/jobs/${id}/payload`, get('chat-key-0123456789'));
    expect(mine.status).toBe(200);
    expect(await mine.text()).toBe(whole.text);
    expect(mine.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(mine.headers.get('content-disposition')).toBe(`attachment; filename="${id}.payload.json"`);
    expect(mine.headers.get('x-warren-payload-bytes')).toBe('61');
    expect(mine.headers.get('x-warren-payload-truncated')).toBe('false');
    expect(mine.headers.get('cache-control')).toBe('private, no-store');
    const theirs = await t.app.request(`/v1/jobs/${id}/payload`, get('all-key-0123456789'));
    expect(theirs.status).toBe(404);
    expect((await json(theirs)).error.code).toBe('JOB_NOT_FOUND');
    expect((await t.app.request(`/v1/jobs/${id}/payload`, get('admin-key-0123456789'))).status).toBe(200);
  });

  it('says when the stored payload was cut at the cap (plain text: the first part of a JSON body is not JSON)', async () => {
    const id = newJobId();
    const cut: StoredPayload = { text: '{"messages":[{"role":"user","content":"aaaa', storedBytes: 43, totalBytes: 1_048_600, truncated: true };
    const t = createTestApp({ history: fakeHistory(() => ({ found: true, view: view(id), owner: 'env#1' }), undefined, () => cut) });
    const res = await t.app.request(`/v1/jobs/${id}/payload`, get('chat-key-0123456789'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(cut.text);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.payload.part.json"`);
    expect(res.headers.get('x-warren-payload-bytes')).toBe('1048600');
    expect(res.headers.get('x-warren-payload-truncated')).toBe('true');
  });

  it('answers 503 for a young job whose queued event is not read yet, 404 PAYLOAD_NOT_STORED for an older one without a payload', async () => {
    const young = newJobId();
    const old = newJobId();
    const topology = testTopology();
    const t = createTestApp({
      // Payloads on (the schema's default is off): a young job's payload may still be on its way.
      topology: { ...topology, jobEvents: { ...topology.jobEvents!, payloadBytes: 64 * 1024 } },
      history: fakeHistory((id) => ({ found: true, view: { ...view(id), createdAt: id === young ? new Date().toISOString() : '2026-01-01T00:00:00.000Z' }, owner: 'env#1' }), undefined, () => undefined),
    });
    const pending = await t.app.request(`/v1/jobs/${young}/payload`, get('chat-key-0123456789'));
    expect(pending.status).toBe(503);
    expect(pending.headers.get('retry-after')).toBe('1');
    expect((await json(pending)).error.code).toBe('PAYLOAD_PENDING');
    const none = await t.app.request(`/v1/jobs/${old}/payload`, get('chat-key-0123456789'));
    expect(none.status).toBe(404);
    expect((await json(none)).error.code).toBe('PAYLOAD_NOT_STORED');
  });
});
