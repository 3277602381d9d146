import { swaggerUI } from '@hono/swagger-ui';
import type { Hono } from 'hono';
import type { ApiEnv } from '../api-env.ts';
import type { AppContext } from '../app-context.ts';
import { buildOpenApiDocument } from '../openapi/openapi-document.ts';

/** GET /openapi.json (built on first request, then cached) and GET /docs (Swagger UI). */
export function registerDocsRoutes(app: Hono<ApiEnv>, ctx: AppContext): void {
  let doc: unknown;
  app.get('/openapi.json', (c) => {
    doc ??= buildOpenApiDocument(ctx);
    return c.json(doc as object, 200);
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'warren API' }));
}
