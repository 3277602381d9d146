import { describe, expect, it } from 'vitest';
import { DlqError, type DlqErrorCode } from '../../errors/index.ts';
import { createTestApp, get, post } from '../api-test-kit.test-support.ts';
import type { DlqOperations } from '../dlq-operations.ts';

const ADMIN = 'admin-key-0123456789';

type Report = Awaited<ReturnType<DlqOperations['requeue']>>;

function report(error?: { code: string; message: string }): Report {
  return {
    queue: 'llm.dead',
    action: 'requeue',
    dryRun: false,
    total: 3,
    snapshot: 3,
    scanned: 2,
    selected: 2,
    moved: 1,
    skipped: { filtered: 0, capped: 0, unknownOrigin: 0, notScanned: 1 },
    failed: 0,
    deduplicated: 0,
    possibleDuplicates: 0,
    unacked: 0,
    destinations: {},
    unknownOrigins: [],
    failures: [],
    plan: [],
    interrupted: false,
    error,
    eventErrors: 0,
    warnings: [],
    durationMs: 5,
    rate: 200,
    journal: undefined,
  };
}

/** DLQ operations that throw `fail` (when set) and record what the routes passed them. */
function fakeDlq(behaviour: { fail?: Error; report?: Report } = {}) {
  const calls: { list: unknown[]; requeue: unknown[] } = { list: [], requeue: [] };
  const dlq: DlqOperations = {
    list: async (_queue, query) => {
      calls.list.push(query);
      if (behaviour.fail) throw behaviour.fail;
      throw new Error('list answers are not used here');
    },
    requeue: async (_queue, body) => {
      calls.requeue.push(body);
      if (behaviour.fail) throw behaviour.fail;
      return behaviour.report ?? report();
    },
  };
  return { dlq, calls };
}

describe('/v1/dlq routes', () => {
  const cases: [DlqErrorCode, number][] = [
    ['DLQ_INVALID_FILTER', 400],
    ['DLQ_QUEUE_NOT_FOUND', 404],
    ['DLQ_QUEUE_BUSY', 409],
    ['DLQ_NOT_A_DEAD_LETTER_QUEUE', 422],
    ['DLQ_UNKNOWN_ROUTE', 422],
    ['DLQ_UNSUPPORTED_QUEUE', 422],
    ['DLQ_CONNECTION_LOST', 503],
  ];
  it.each(cases)('the app\'s one error handler answers %s with %i and the error body', async (code, status) => {
    const { dlq } = fakeDlq({ fail: new DlqError(code, `the DLQ tool said ${code}`, { details: { queue: 'llm.dead' } }) });
    const { app } = createTestApp({ dlq });
    for (const res of [await app.request('/v1/dlq/llm.dead?route=chat', get(ADMIN)), await app.request('/v1/dlq/llm.dead/requeue', post({ route: ['chat'] }, ADMIN))]) {
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: { code, message: `the DLQ tool said ${code}`, details: { queue: 'llm.dead' } } });
    }
  });

  it('passes the query as received (a repeated parameter as a list) and the parsed body', async () => {
    const { dlq, calls } = fakeDlq({ fail: new DlqError('DLQ_QUEUE_NOT_FOUND', 'gone') });
    const { app } = createTestApp({ dlq });
    await app.request('/v1/dlq/llm.dead?route=a&route=b&since=2h', get(ADMIN));
    expect(calls.list).toEqual([{ route: ['a', 'b'], since: '2h' }]);
    expect((await app.request('/v1/dlq/llm.dead/requeue', post({ id: ['m-1'], dryRun: true }, ADMIN))).status).toBe(404);
    expect(calls.requeue).toEqual([{ id: ['m-1'], dryRun: true }]);
  });

  it('an empty requeue body means no filter; a malformed one is refused and nothing is requeued', async () => {
    const { dlq, calls } = fakeDlq();
    const { app } = createTestApp({ dlq });
    expect((await app.request('/v1/dlq/llm.dead/requeue', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect(calls.requeue).toEqual([undefined]);
    const bad = await app.request('/v1/dlq/llm.dead/requeue', post('{"errorClass": ["timeout"', ADMIN));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_JSON');
    expect(calls.requeue).toHaveLength(1);
  });

  it('a run that stopped early answers the status of its error, with the tally of what was done', async () => {
    const lost = report({ code: 'DLQ_CONNECTION_LOST', message: 'lost the connection to the broker: gone' });
    const stopped = await createTestApp({ dlq: fakeDlq({ report: lost }).dlq }).app.request('/v1/dlq/llm.dead/requeue', post({}, ADMIN));
    expect(stopped.status).toBe(503);
    expect(await stopped.json()).toEqual({ error: { code: 'DLQ_CONNECTION_LOST', message: 'lost the connection to the broker: gone', details: null }, report: JSON.parse(JSON.stringify(lost)) });
    // A code the table doesn't know is still the broker side's failure, not the client's.
    const odd = await createTestApp({ dlq: fakeDlq({ report: report({ code: 'DLQ_ERROR', message: 'boom' }) }).dlq }).app.request('/v1/dlq/llm.dead/requeue', post({}, ADMIN));
    expect(odd.status).toBe(503);
  });

  it('needs the admin scope, and is not served at all without DLQ operations', async () => {
    const { dlq, calls } = fakeDlq();
    const { app } = createTestApp({ dlq });
    expect((await app.request('/v1/dlq/llm.dead', get('all-key-0123456789'))).status).toBe(403);
    expect((await app.request('/v1/dlq/llm.dead/requeue', post({}, 'all-key-0123456789'))).status).toBe(403);
    expect(calls).toEqual({ list: [], requeue: [] });
    expect((await createTestApp().app.request('/v1/dlq/llm.dead', get(ADMIN))).status).toBe(404);
  });
});
