import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createDlqRoutes } from '../../dlq/dlq-routes.ts';
import type { DlqListing, DlqService } from '../../dlq/dlq-service.ts';
import type { RequeueOptions, RequeueReport } from '../../dlq/dlq-requeue.ts';
import type { InspectOptions } from '../../dlq/dlq-service.ts';
import { createTestApp, get, post } from '../api-test-kit.test-support.ts';
import type { WarrenApp } from '../create-app.ts';
import { dlqListingSchema, dlqRequeueReportSchema } from './api-schemas.ts';

const ADMIN = 'admin-key-0123456789';

/** One HTTP endpoint: `GET /v1/jobs/{id}` (Hono's `:id` written the OpenAPI way). */
type Endpoint = `${string} ${string}`;

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>>;
}

const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);
const segments = (path: string) => path.split('/').filter((s) => s !== '');
const isParam = (segment: string) => segment.startsWith(':') || /^\{.+\}$/.test(segment);

/**
 * True when a registered Hono path serves a documented path. A `:param` of the app serves any segment (the
 * document names one path per topology route, e.g. /v1/jobs/chat for /v1/jobs/:route); a literal of the app
 * serves only the same literal, never a documented `{param}`.
 */
function serves(appPath: string, docPath: string): boolean {
  const a = segments(appPath);
  const d = segments(docPath);
  return a.length === d.length && a.every((seg, i) => isParam(seg) || seg === d[i]);
}

/**
 * Compares the app's registered routes (Hono's public `app.routes`) with the OpenAPI document's paths and
 * methods, both ways. Entries with method ALL are middleware (`app.use`): each must guard at least one
 * handler, or it would be an undocumented catch-all.
 */
function compare(app: Hono<never> | WarrenApp, doc: OpenApiDoc): { undocumented: Endpoint[]; unserved: Endpoint[]; strayMiddleware: string[] } {
  const handlers = app.routes.filter((r) => r.method !== 'ALL');
  const middleware = app.routes.filter((r) => r.method === 'ALL');
  const documented: { method: string; path: string }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) if (HTTP_METHODS.has(method)) documented.push({ method: method.toUpperCase(), path });
  }
  const undocumented = handlers
    .filter((h) => !documented.some((d) => d.method === h.method && serves(h.path, d.path)))
    .map((h): Endpoint => `${h.method} ${h.path}`);
  const unserved = documented
    .filter((d) => !handlers.some((h) => h.method === d.method && serves(h.path, d.path)))
    .map((d): Endpoint => `${d.method} ${d.path}`);
  const strayMiddleware = middleware
    .filter((m) => {
      const prefix = m.path.endsWith('*') ? m.path.slice(0, -1) : undefined;
      return !handlers.some((h) => (prefix === undefined ? h.path === m.path : h.path.startsWith(prefix)));
    })
    .map((m) => m.path);
  return { undocumented: [...new Set(undocumented)], unserved, strayMiddleware };
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

describe('OpenAPI document vs the registered routes', () => {
  it('documents every registered route and method, and documents nothing that is not served (DLQ mounted)', async () => {
    const { app } = createTestApp({ dlq: createDlqRoutes({ service: recordingDlqService().service }) });
    const doc = await documentOf(app);
    expect(compare(app, doc)).toEqual({ undocumented: [], unserved: [], strayMiddleware: [] });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/dlq/{queue}', '/v1/dlq/{queue}/requeue']));
  });

  it('leaves the DLQ endpoints out of the document when the API does not mount them', async () => {
    const { app } = createTestApp();
    const doc = await documentOf(app);
    expect(compare(app, doc)).toEqual({ undocumented: [], unserved: [], strayMiddleware: [] });
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/dlq'))).toEqual([]);
  });

  it('fails for a route added without documentation, a documented path nobody serves, and a catch-all', async () => {
    const doc = await documentOf(createTestApp({ dlq: createDlqRoutes({ service: recordingDlqService().service }) }).app);
    // The same app, with routes added after createApp (Hono refuses new routes once it has served a request).
    const { app } = createTestApp({ dlq: createDlqRoutes({ service: recordingDlqService().service }) });
    app.get('/v1/jobs/:id/cancel', (c) => c.text('x'));
    app.delete('/v1/jobs/:id', (c) => c.text('x'));
    app.all('/v1/admin', (c) => c.text('x'));
    doc.paths['/v1/ghost'] = { get: {} };
    // A documented {param} is not served by a literal route of the same shape.
    doc.paths['/v1/routes/{name}'] = { get: {} };
    expect(compare(app, doc)).toEqual({
      undocumented: ['GET /v1/jobs/:id/cancel', 'DELETE /v1/jobs/:id'],
      unserved: ['GET /v1/ghost', 'GET /v1/routes/{name}'],
      strayMiddleware: ['/v1/admin'],
    });
  });
});

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
    const { app } = createTestApp({ dlq: createDlqRoutes({ service: dlq.service }) });
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
    const { app } = createTestApp({ dlq: createDlqRoutes({ service: dlq.service }) });
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
