import { describe, expect, it } from 'vitest';
import { createTestApp, get, post } from '../api/api-test-kit.test-support.ts';
import type { WarrenApp } from '../api/create-app.ts';
import { dlqGroupsSchema, dlqListingSchema, dlqPurgeReportSchema, dlqRequeueReportSchema } from '../api/openapi/api-schemas.ts';
import { createDlqRequests } from '../dlq/dlq-requests.ts';
import type { RequeueOptions, RequeueReport } from '../dlq/dlq-requeue.ts';
import type { DlqListing, DlqService, InspectOptions } from '../dlq/dlq-service.ts';

// The API documents /v1/dlq (src/api/openapi); src/dlq validates what those endpoints receive. The two are
// siblings that never import each other, so their agreement is checked here, where `warren start` wires one
// into the other (dlqForApi in start-command.ts): the HTTP app over src/dlq's request handling.

const ADMIN = 'admin-key-0123456789';

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>>;
}
function emptyListing(queue: string): DlqListing {
  return {
    summary: {
      queue,
      total: 0,
      scanned: 0,
      matched: 0,
      truncated: false,
      byKind: {},
      byRoute: {},
      byReason: {},
      byErrorClass: {},
      byOrigin: {},
      unknownOrigin: 0,
      overCap: 0,
      maxRequeues: 5,
      alreadyRequeued: 0,
      oldest: undefined,
      newest: undefined,
    },
    messages: [
      {
        index: 0,
        messageId: 'm-1',
        jobId: 'm-1',
        kind: 'warren',
        reason: 'context-length',
        errorClass: 'context-length',
        errorMessage: '400 context length exceeded',
        route: 'chat',
        origin: { exchange: 'llm.jobs', routingKey: 'llm.standard.chat', queue: 'llm.standard', source: 'x-warren-origin' },
        originProblem: undefined,
        failedAt: '2026-01-01T00:00:00.000Z',
        attempts: 1,
        requeued: 0,
        redelivered: false,
        bodyBytes: 12,
        bodyPreview: '{"model":"m"}',
      },
    ],
    warnings: [],
  };
}

function emptyReport(queue: string): RequeueReport {
  return {
    queue,
    action: 'requeue',
    dryRun: true,
    total: 0,
    snapshot: 0,
    scanned: 0,
    selected: 0,
    moved: 0,
    skipped: { filtered: 0, capped: 0, unknownOrigin: 0, notScanned: 0 },
    failed: 0,
    deduplicated: 0,
    possibleDuplicates: 0,
    unacked: 0,
    destinations: {},
    unknownOrigins: [],
    failures: [],
    plan: [],
    interrupted: false,
    error: undefined,
    eventErrors: 0,
    warnings: [],
    durationMs: 1,
    rate: 0,
    journal: undefined,
  };
}

/** A DLQ service that records what the routes asked it; list and requeue answer canned results. */
function recordingDlqService() {
  const calls: { list: InspectOptions[]; requeue: RequeueOptions[]; groups: InspectOptions[]; export: InspectOptions[]; purge: Parameters<DlqService['purge']>[1][] } = { list: [], requeue: [], groups: [], export: [], purge: [] };
  const service: DlqService = {
    async list(queue, options) {
      calls.list.push(options);
      return emptyListing(queue);
    },
    async requeue(queue, options) {
      calls.requeue.push(options);
      return emptyReport(queue);
    },
    depth: async () => 1,
    async groups(queue, options) {
      calls.groups.push(options);
      const listing = emptyListing(queue);
      return {
        queue,
        total: 1,
        scanned: 1,
        matched: 1,
        truncated: false,
        groups: [{ id: 'g', origin: 'llm.standard', reason: 'context-length', errorClass: 'context-length', count: 1, routes: { chat: 1 }, unknownOrigin: 0, overCap: 0, oldest: listing.messages[0]?.failedAt, newest: listing.messages[0]?.failedAt, sampleError: 'x' }],
        warnings: [],
      };
    },
    async export(queue, options, write) {
      calls.export.push(options);
      await write({ queue, index: 0, fields: { exchange: '', routingKey: 'llm.dead', redelivered: false }, properties: { messageId: 'm-1' }, body: '<script>', bodyEncoding: 'utf8', deadLetter: { kind: 'warren', reason: 'context-length', errorClass: undefined, errorMessage: undefined, route: 'chat', messageId: 'm-1', jobId: 'm-1', origin: undefined, originProblem: 'x', failedAt: 0, attempts: 1, requeued: 0 } });
      return { exported: 1, summary: emptyListing(queue).summary, warnings: [] };
    },
    async purge(queue, options) {
      calls.purge.push(options);
      return { queue, dryRun: options.dryRun ?? false, purged: 0, selective: emptyReport(queue), warnings: [] };
    },
  };
  return { service, calls };
}

async function documentOf(app: WarrenApp): Promise<OpenApiDoc> {
  const res = await app.request('/openapi.json', get());
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDoc;
}

describe('OpenAPI document of the DLQ endpoints vs what they accept and answer', () => {
  /** A valid value for each documented query parameter of GET /v1/dlq/{queue}. */
  const LIST_SAMPLES: Record<string, string> = {
    route: 'chat',
    reason: 'context-length,rate-limited',
    errorClass: 'context-length',
    origin: 'llm.standard',
    id: 'm-1',
    key: 'customer-42',
    group: 'bGxtLnN0YW5kYXJkAGV4cGlyZWQAKG5vbmUp',
    since: '2h',
    before: '2030-01-01T00:00:00Z',
    limit: '100',
    offset: '1',
    pageSize: '10',
    maxRequeues: '3',
  };
  /** A valid value for each documented field of the POST /v1/dlq/{queue}/requeue body. */
  const REQUEUE_SAMPLES: Record<string, unknown> = {
    route: ['chat'],
    reason: 'context-length',
    errorClass: ['context-length'],
    origin: 'llm.standard',
    id: ['m-1', 'm-2'],
    key: ['customer-42'],
    group: ['bGxtLnN0YW5kYXJkAGV4cGlyZWQAKG5vbmUp'],
    since: '1h',
    before: '2030-01-01T00:00:00Z',
    limit: 10,
    toRoute: 'chat',
    via: 'queue',
    dryRun: true,
    rate: '50/s',
    maxRequeues: 2,
    keepAttempts: true,
    force: false,
  };

  it('GET accepts every documented query parameter, refuses an undocumented one, and answers the documented listing', async () => {
    const dlq = recordingDlqService();
    const { app } = createTestApp({ dlq: createDlqRequests(dlq.service, { maxRequeues: 5 }) });
    const doc = await documentOf(app);
    const documented = (doc.paths['/v1/dlq/{queue}']?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(documented.sort()).toEqual(Object.keys(LIST_SAMPLES).sort());

    const res = await app.request(`/v1/dlq/llm.dead?${new URLSearchParams(LIST_SAMPLES).toString()}`, get(ADMIN));
    expect(res.status).toBe(200);
    expect(dlqListingSchema.safeParse(await res.json()).error).toBeUndefined();
    expect(dlq.calls.list[0]).toMatchObject({ offset: 1, pageSize: 10, limit: 100, maxRequeues: 3, filter: { route: ['chat'], reason: ['context-length', 'rate-limited'] } });

    const unknown = await app.request('/v1/dlq/llm.dead?queueName=x', get(ADMIN));
    expect(unknown.status).toBe(400);
  });

  it('POST requeue accepts every documented body field, refuses an undocumented one, and answers the documented report', async () => {
    const dlq = recordingDlqService();
    const { app } = createTestApp({ dlq: createDlqRequests(dlq.service, { maxRequeues: 5 }) });
    const doc = await documentOf(app);
    const schema = doc.paths['/v1/dlq/{queue}/requeue']?.post?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(Object.keys(REQUEUE_SAMPLES).sort());

    const res = await app.request('/v1/dlq/llm.dead/requeue', post(REQUEUE_SAMPLES, ADMIN));
    expect(res.status).toBe(200);
    expect(dlqRequeueReportSchema.safeParse(await res.json()).error).toBeUndefined();
    expect(dlq.calls.requeue[0]).toMatchObject({ dryRun: true, limit: 10, toRoute: 'chat', via: 'queue', ratePerSec: 50, maxRequeues: 2, keepAttempts: true, force: false });

    const unknown = await app.request('/v1/dlq/llm.dead/requeue', post({ destination: 'warren.events' }, ADMIN));
    expect(unknown.status).toBe(400);
  });

  it('GET groups and GET export accept the documented filters; groups answer the documented shape; export is NDJSON lines', async () => {
    const dlq = recordingDlqService();
    const { app } = createTestApp({ dlq: createDlqRequests(dlq.service, { maxRequeues: 5 }) });
    const doc = await documentOf(app);
    const scanSamples: Record<string, string> = { ...LIST_SAMPLES };
    delete scanSamples['offset'];
    delete scanSamples['pageSize'];
    const groupSamples = { ...scanSamples, fresh: 'true', stale: 'false' };
    for (const [path, samples] of [['/v1/dlq/{queue}/groups', groupSamples], ['/v1/dlq/{queue}/export', scanSamples]] as const) {
      const documented = (doc.paths[path]?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      expect(documented.sort()).toEqual(Object.keys(samples).sort());
    }
    const res = await app.request(`/v1/dlq/llm.dead/groups?${new URLSearchParams(groupSamples).toString()}`, get(ADMIN));
    expect(res.status).toBe(200);
    expect(dlqGroupsSchema.safeParse(await res.json()).error).toBeUndefined();
    expect(dlq.calls.groups[0]).toMatchObject({ limit: 100, maxRequeues: 3, filter: { group: [scanSamples['group']], origin: ['llm.standard'] } });

    const exp = await app.request(`/v1/dlq/llm.dead/export?${new URLSearchParams(scanSamples).toString()}`, get(ADMIN));
    expect(exp.status).toBe(200);
    expect(exp.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await exp.text()).split('\n').filter((l) => l !== '');
    expect(lines.map((l) => JSON.parse(l).body)).toEqual(['<script>']);

    expect((await app.request('/v1/dlq/llm.dead/groups?queueName=x', get(ADMIN))).status).toBe(400);
    expect((await app.request('/v1/dlq/llm.dead/export?since=yesterday-ish', get(ADMIN))).status).toBe(400);
  });

  it('POST purge accepts every documented body field, refuses an undocumented one, and answers the documented report', async () => {
    const dlq = recordingDlqService();
    const { app } = createTestApp({ dlq: createDlqRequests(dlq.service, { maxRequeues: 5 }) });
    const doc = await documentOf(app);
    const samples: Record<string, unknown> = { route: ['chat'], reason: 'x', errorClass: ['y'], origin: 'llm.standard', id: ['m-1'], group: ['g'], since: '1h', before: '2030-01-01T00:00:00Z', limit: 3, dryRun: true, force: false };
    const schema = doc.paths['/v1/dlq/{queue}/purge']?.post?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(Object.keys(samples).sort());
    const res = await app.request('/v1/dlq/llm.dead/purge', post(samples, ADMIN));
    expect(res.status).toBe(200);
    expect(dlqPurgeReportSchema.safeParse(await res.json()).error).toBeUndefined();
    expect(dlq.calls.purge[0]).toMatchObject({ dryRun: true, limit: 3, force: false, filter: { group: ['g'], id: ['m-1'] } });
    expect((await app.request('/v1/dlq/llm.dead/purge', post({ everything: true }, ADMIN))).status).toBe(400);
  });
});
