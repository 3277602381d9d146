import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createTestApp, get } from '../api-test-kit.test-support.ts';
import { openAiSchema } from '../../config/openai-schema.ts';
import type { WarrenApp } from '../create-app.ts';
import type { DlqOperations } from '../dlq-operations.ts';

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
  // The console's HTML pages (/console, src/api/console) are not part of the JSON API the document describes.
  const apiRoutes = app.routes.filter((r) => r.path !== '/console' && !r.path.startsWith('/console/'));
  const handlers = apiRoutes.filter((r) => r.method !== 'ALL');
  const middleware = apiRoutes.filter((r) => r.method === 'ALL');
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

/** DLQ operations for the mount only: these tests never call them (the contract test in src/cli does). */
const unusedDlq: DlqOperations = {
  list: () => Promise.reject(new Error('not called')),
  requeue: () => Promise.reject(new Error('not called')),
  groups: () => Promise.reject(new Error('not called')),
  purge: () => Promise.reject(new Error('not called')),
  export: () => Promise.reject(new Error('not called')),
};

async function documentOf(app: WarrenApp): Promise<OpenApiDoc> {
  const res = await app.request('/openapi.json', get());
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDoc;
}

describe('OpenAPI document vs the registered routes', () => {
  it('documents every registered route and method, and documents nothing that is not served (DLQ mounted)', async () => {
    const { app } = createTestApp({ dlq: unusedDlq });
    const doc = await documentOf(app);
    expect(compare(app, doc)).toEqual({ undocumented: [], unserved: [], strayMiddleware: [] });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/dlq/{queue}', '/v1/dlq/{queue}/requeue', '/v1/dlq/{queue}/groups', '/v1/dlq/{queue}/purge', '/v1/dlq/{queue}/export']));
  });

  it('leaves the DLQ endpoints out of the document when the API does not mount them', async () => {
    const { app } = createTestApp();
    const doc = await documentOf(app);
    expect(compare(app, doc)).toEqual({ undocumented: [], unserved: [], strayMiddleware: [] });
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/dlq'))).toEqual([]);
  });

  it('documents the OpenAI front door when topology.yaml has an openai section', async () => {
    const base = createTestApp().deps.topology;
    const { app } = createTestApp({ topology: { ...base, openai: openAiSchema.parse({ models: { 'gpt-4o-mini': {} } }) } });
    const doc = await documentOf(app);
    expect(compare(app, doc)).toEqual({ undocumented: [], unserved: [], strayMiddleware: [] });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/chat/completions', '/v1/models', '/v1/models/{model}']));
  });

  it('fails for a route added without documentation, a documented path nobody serves, and a catch-all', async () => {
    const doc = await documentOf(createTestApp({ dlq: unusedDlq }).app);
    // The same app, with routes added after createApp (Hono refuses new routes once it has served a request).
    const { app } = createTestApp({ dlq: unusedDlq });
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
