import { describe, expect, it } from 'vitest';
import { createTestApp, get, post } from '../api/api-test-kit.test-support.ts';
import type { WarrenApp } from '../api/create-app.ts';
import { dlqListingSchema, dlqRequeueReportSchema } from '../api/openapi/api-schemas.ts';
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
  const calls: { list: InspectOptions[]; requeue: RequeueOptions[] } = { list: [], requeue: [] };
  const service: DlqService = {
    async list(queue, options) {
      calls.list.push(options);
      return emptyListing(queue);
    },
    async requeue(queue, options) {
      calls.requeue.push(options);
      return emptyReport(queue);
    },
    groups: () => Promise.reject(new Error('not used by this test')),
    export: () => Promise.reject(new Error('not used by the HTTP API')),
    purge: () => Promise.reject(new Error('not used by the HTTP API')),
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
});
