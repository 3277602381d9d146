import { publishableExchanges } from '../jobs/publishable-exchanges.ts';
import { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { ENV_SETTINGS } from '../../config/env-settings.ts';
import type { AppContext } from '../app-context.ts';
import type { DlqOperations } from '../dlq-operations.ts';
import { batchModeSchema } from '../jobs/batch-mode.ts';
import { registerOpenAiPaths } from './openai-paths.ts';
import { exchangePublishSchema } from '../routes/publish.ts';
import {
  batchResultSchema,
  dlqGroupsSchema,
  dlqListingSchema,
  dlqPurgeReportSchema,
  dlqRequeueReportSchema,
  errorSchema,
  jobAcceptedSchema,
  jobListSchema,
  jobStatusViewSchema,
  publishAcceptedSchema,
  readinessSchema,
  routeListSchema,
} from './api-schemas.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => json(errorSchema, description);
const secured = [{ bearer: [] as string[] }];

const publishErrors = {
  400: err('Malformed JSON, or the job fails the route schema: `details` lists every failing field path.'),
  401: err('Missing or invalid API key.'),
  403: err('The key may not publish to this route.'),
  404: err('Unknown route.'),
  413: err('Body too large.'),
  415: err('Content-Type is not application/json.'),
  422: err('Unroutable: no queue is bound for the routing key (the route and key are named).'),
  503: err('The broker refused the job (full queue; see Retry-After), did not confirm in time, or is disconnected. Nothing was queued.'),
};

/**
 * Builds the OpenAPI 3.1 document from the same zod schemas the API validates
 * with: one concrete path per topology route, so each shows its own payload
 * schema. Built once; the documentation never sits on the publish path.
 */
export function buildOpenApiDocument(ctx: AppContext): unknown {
  const doc = new OpenAPIHono();
  const r = doc.openAPIRegistry;
  r.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API key from WARREN_API_KEYS / WARREN_API_KEYS_FILE.' });
  const idempotencyKey = z.string().min(1).max(255).optional().meta({
    description: 'The same key (per API key and route) returns the first job instead of publishing again, for as long as the job-events stream holds the job (jobEvents.maxAge), on every replica and across restarts.',
  });
  const traceparent = z.string().optional().meta({ description: 'W3C trace context, carried onto the message.' });

  for (const route of ctx.routes.values()) {
    r.registerPath({
      method: 'post',
      path: `/v1/jobs/${route.name}`,
      tags: ['jobs'],
      summary: `Submit one '${route.name}' job`,
      description: `${route.description ?? ''}\n\nPublished to exchange \`${route.exchange}\` with routing key \`${route.routingKey.source}\`. Answers 202 only after the broker confirmed the message.`.trim(),
      security: secured,
      request: {
        headers: z.object({ 'idempotency-key': idempotencyKey, traceparent }),
        query: z.object({ wait: z.string().optional().meta({ description: 'Wait up to this long (e.g. 30s) for the job to finish; 200 with the job status if it did.' }) }),
        body: { required: true, content: { 'application/json': { schema: route.schema } } },
      },
      responses: {
        200: json(jobStatusViewSchema, 'With ?wait: the job finished within the wait.'),
        202: json(jobAcceptedSchema, 'Queued: the broker confirmed the job.'),
        ...publishErrors,
      },
    });
    r.registerPath({
      method: 'post',
      path: `/v1/jobs/${route.name}/batch`,
      tags: ['jobs'],
      summary: `Submit many '${route.name}' jobs`,
      security: secured,
      request: {
        headers: z.object({ 'idempotency-key': idempotencyKey }),
        query: z.object({ mode: batchModeSchema.optional() }),
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z.union([
                z.array(route.schema).min(1).max(ctx.limits.maxBatchItems),
                z.object({ mode: batchModeSchema.optional(), jobs: z.array(route.schema).min(1).max(ctx.limits.maxBatchItems) }),
              ]),
            },
          },
        },
      },
      responses: {
        202: json(batchResultSchema, 'Every job was queued.'),
        207: json(batchResultSchema, 'best-effort: some jobs were rejected; each has its result.'),
        ...publishErrors,
      },
    });
  }

  const jobId = z.object({ id: z.string().meta({ description: 'Job id from the 202 answer (1-200 letters, digits, _ . : or -).' }) });
  const lookupErrors = {
    400: err('INVALID_JOB_ID: not a job id.'),
    401: err('Missing or invalid API key.'),
    404: err(
      'JOB_EXPIRED: the id is time-ordered (UUID v7) and older than the oldest job status the stream holds (`details.oldestAt`). JOB_NOT_FOUND: no such job within retention, or not one of this key\'s jobs.',
    ),
    503: err('STATUS_INDEX_REPLAYING / STATUS_HISTORY_INDEXING / STATUS_HISTORY_UNAVAILABLE: the replica cannot tell yet (see Retry-After).'),
  };
  r.registerPath({
    method: 'get',
    path: '/v1/jobs',
    tags: ['jobs'],
    summary: "This key's jobs (every job with read-all / admin), newest first, over the whole retention",
    description:
      'Jobs submitted through the API or by handlers (each has a `queued` event), newest first in stream order. Pages with `next`; a page reads a bounded part of the history, so it may hold fewer than `limit` jobs and still have a `next`.',
    security: secured,
    request: {
      query: z.object({
        route: z.string().optional().meta({ description: 'Only jobs of this route.' }),
        queue: z.string().optional().meta({ description: 'Only jobs whose queue (where a worker last took them) is this one.' }),
        idPrefix: z.string().optional().meta({ description: 'Only jobs whose id starts with this (1-200 letters, digits, _ . : or -).' }),
        status: z.string().optional().meta({ description: 'Only jobs whose current status is one of these (comma-separated), e.g. `failed,dead-lettered`.' }),
        before: z.string().optional().meta({ description: 'Jobs created before this ISO 8601 time, or the `next` cursor of the previous page.' }),
        after: z.string().optional().meta({ description: 'Jobs created at or after this ISO 8601 time.' }),
        limit: z.string().optional().meta({ description: 'Jobs per page, 1-200 (default 50).' }),
      }),
    },
    responses: {
      200: json(jobListSchema, 'A page of jobs.'),
      400: err('INVALID_QUERY: a parameter is malformed (named in the message).'),
      401: err('Missing or invalid API key.'),
      503: err('The replica is still reading or indexing the job history (see Retry-After).'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}',
    tags: ['jobs'],
    summary: 'Status of a job: attempts, errors, result',
    description: 'Any job the job-events stream still holds (jobEvents.maxAge), on any replica.',
    security: secured,
    request: { params: jobId },
    responses: { 200: json(jobStatusViewSchema, 'The job.'), ...lookupErrors },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/payload',
    tags: ['jobs'],
    summary: 'The payload the job was submitted with (a download)',
    description:
      "The message body the job was published with, as the job-events stream stored it beside its `queued` event: whole, or its first `jobEvents.payloadBytes` bytes when longer (0 by default: no payloads are kept; the shipped topology.yaml sets 64 KiB). Same keys as GET /v1/jobs/{id}: a key reads its own jobs' payloads, `read-all` / `admin` every job's. Read from the stream on each call (the status cache holds no payloads). A dead-lettered job's whole message is also in its dead-letter queue (GET /v1/dlq/{queue}, admin).",
    security: secured,
    request: { params: jobId },
    responses: {
      200: {
        description: 'The stored payload, byte for byte: `application/json` when whole, `text/plain` when cut at the cap (the first part of a JSON text is not JSON).',
        headers: z.object({
          'x-warren-payload-bytes': z.string().meta({ description: 'Size in bytes of the whole payload the job was published with.' }),
          'x-warren-payload-truncated': z.enum(['true', 'false']).meta({ description: '`true` when the history kept only the first part (the body here) of a longer payload.' }),
          'content-disposition': z.string().meta({ description: '`attachment; filename="<id>.payload.json"` (`.payload.part.json` when cut).' }),
        }),
        content: { 'application/json': { schema: z.unknown() }, 'text/plain': { schema: z.string() } },
      },
      ...lookupErrors,
      404: err(
        "JOB_EXPIRED / JOB_NOT_FOUND as for GET /v1/jobs/{id} (another key's job included). PAYLOAD_NOT_STORED: the history holds no payload of the job (submitted while `jobEvents.payloadBytes` was 0, or before warren kept payloads).",
      ),
      503: err('As for GET /v1/jobs/{id}; and PAYLOAD_PENDING: a job of the last few seconds whose payload is not in the stream yet (see Retry-After).'),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/events',
    tags: ['jobs'],
    summary: 'The job status as Server-Sent Events, until the job ends',
    description: 'Each message: `event: <status>`, `data: <JobStatus JSON>`. The stream ends after a final status (succeeded, failed, dead-lettered).',
    security: secured,
    request: { params: jobId },
    responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } }, ...lookupErrors },
  });
  const exchanges = publishableExchanges(ctx.deps.topology);
  if (exchanges.length > 0) {
    r.registerPath({
      method: 'post',
      path: '/v1/publish/{exchange}',
      tags: ['publish'],
      summary: 'Publish a plain message to an exchange of the topology',
      security: secured,
      request: {
        params: z.object({ exchange: z.enum(exchanges as [string, ...string[]]) }),
        headers: z.object({ 'idempotency-key': idempotencyKey, traceparent }),
        body: { required: true, content: { 'application/json': { schema: exchangePublishSchema } } },
      },
      responses: { 202: json(publishAcceptedSchema, 'The broker confirmed the message.'), ...publishErrors },
    });
  }
  r.registerPath({ method: 'get', path: '/v1/routes', tags: ['meta'], summary: 'Routes this key may publish to, with their payload JSON Schemas', security: secured, responses: { 200: json(routeListSchema, 'Routes.') } });
  r.registerPath({ method: 'get', path: '/healthz', tags: ['meta'], summary: 'Liveness (open)', responses: { 200: json(z.object({ status: z.literal('ok') }), 'The process answers.') } });
  r.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['meta'],
    summary: 'Readiness (open): broker connected, topology applied, status index caught up',
    responses: { 200: json(readinessSchema, 'Ready.'), 503: err('Not ready; details has each check.') },
  });
  r.registerPath({ method: 'get', path: '/metrics', tags: ['meta'], summary: 'Prometheus metrics', security: secured, responses: { 200: { description: 'Prometheus text format' } } });
  r.registerPath({ method: 'get', path: '/openapi.json', tags: ['meta'], summary: 'This document', security: secured, responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: z.object({}).loose() } } } } });
  r.registerPath({ method: 'get', path: '/docs', tags: ['meta'], summary: 'Swagger UI for this document', security: secured, responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } } });
  if (ctx.deps.dlq !== undefined) registerDlqPaths(r, ctx.deps.dlq);
  if (ctx.deps.topology.openai !== undefined) registerOpenAiPaths(r);

  return doc.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'warren API', version: '1', description: 'Publish LLM and task jobs to RabbitMQ with publisher confirms, and follow their status.' },
    tags: [{ name: 'jobs' }, { name: 'publish' }, { name: 'dlq' }, { name: 'meta' }],
  });
}

// Filters of both DLQ endpoints (parsed by src/dlq/message-filter.ts): every given filter must match.
const listFilter = (what: string) => z.string().optional().meta({ description: `${what}; several as a comma-separated list (or the parameter repeated).` });
const dlqFilterFields = {
  route: listFilter('Route names'),
  reason: listFilter('Dead-letter reason or error class (e.g. `rate-limited`, `expired`, `delivery_limit`)'),
  errorClass: listFilter('Error class only (x-warren-error-class)'),
  origin: listFilter('Origin queues'),
  id: listFilter('Message ids or job ids'),
  key: listFilter('Ordered routes: ordering keys (`customer-42` or `<api key name>/customer-42`)'),
  group: listFilter('Failure group ids (the `id` of a group from `/v1/dlq/{queue}/groups`)'),
  since: z.string().optional().meta({ description: 'Died at or after: a duration ago (`30m`, `2h`, `7d`) or an ISO date.' }),
  before: z.string().optional().meta({ description: 'Died before: a duration ago or an ISO date.' }),
};
const asArray = (description: string) => z.union([z.string(), z.array(z.string())]).optional().meta({ description: `${description}: an array, or a comma-separated string.` });

/** GET /v1/dlq/{queue} and POST /v1/dlq/{queue}/requeue (mounted when the API has the DLQ service; admin scope). */
function registerDlqPaths(r: OpenAPIHono['openAPIRegistry'], dlq: DlqOperations): void {
  const queue = z.object({ queue: z.string().meta({ description: 'A dead-letter queue of the topology (e.g. `llm.dead`).' }) });
  const dlqErrors = {
    400: err('Invalid filter, query or body (unknown fields are refused).'),
    401: err('Missing or invalid API key.'),
    403: err('The key lacks the `admin` scope.'),
    404: err('`DLQ_QUEUE_NOT_FOUND`: no such queue.'),
    409: err('`DLQ_QUEUE_BUSY`: the queue has consumers; a consistent snapshot cannot be read.'),
    422: err('`DLQ_NOT_A_DEAD_LETTER_QUEUE`, `DLQ_UNKNOWN_ROUTE` or `DLQ_UNSUPPORTED_QUEUE`.'),
    503: err('`DLQ_CONNECTION_LOST` / `BROKER_UNAVAILABLE`: the broker is unreachable or the connection dropped mid-run.'),
  };
  r.registerPath({
    method: 'get',
    path: '/v1/dlq/{queue}',
    tags: ['dlq'],
    summary: 'Summary and a page of the dead letters matching the filters (the queue is left as it was)',
    security: secured,
    request: {
      params: queue,
      query: z.object({
        ...dlqFilterFields,
        limit: z.coerce.number().int().positive().optional().meta({ description: 'Stop after this many matching messages.' }),
        offset: z.coerce.number().int().nonnegative().optional().meta({ description: 'Matching messages to skip before the page. Default 0.' }),
        pageSize: z.coerce.number().int().min(1).max(1000).optional().meta({ description: 'Matching messages returned. Default 50.' }),
        maxRequeues: z.coerce.number().int().nonnegative().optional().meta({ description: `Counted as over the cap in the summary. Default: the server's WARREN_DLQ_MAX_REQUEUES (${ENV_SETTINGS.dlqMaxRequeues.default} unless set).` }),
      }),
    },
    responses: { 200: json(dlqListingSchema, 'The listing.'), ...dlqErrors },
  });
  r.registerPath({
    method: 'post',
    path: '/v1/dlq/{queue}/requeue',
    tags: ['dlq'],
    summary: 'Send the matching dead letters back to their origin (or to a route); `dryRun` shows the plan',
    security: secured,
    request: {
      params: queue,
      body: {
        required: false,
        content: {
          'application/json': {
            schema: z
              .object({
                route: asArray('Route names'),
                reason: asArray('Reasons or error classes'),
                errorClass: asArray('Error classes'),
                origin: asArray('Origin queues'),
                id: asArray('Message ids or job ids'),
                key: asArray('Ordered routes: ordering keys; requeueing a blocking job brings the jobs it blocks along'),
                group: asArray('Failure group ids'),
                since: dlqFilterFields.since,
                before: dlqFilterFields.before,
                limit: z.number().int().positive().optional().meta({ description: 'Move at most this many messages.' }),
                toRoute: z.string().min(1).optional().meta({ description: 'Send every selected message to this route instead of its origin.' }),
                via: z.enum(['auto', 'exchange', 'queue']).optional().meta({ description: 'Origin exchange + routing key, straight to the origin queue, or `auto` (default).' }),
                dryRun: z.boolean().optional().meta({ description: 'Report what would happen; change nothing. Default false.' }),
                rate: z.union([z.number().positive(), z.string()]).optional().meta({ description: 'Publishes per second: a number, or `500/s`, `30/m`.' }),
                maxRequeues: z.number().int().nonnegative().optional().meta({ description: `Skip messages already requeued this often. Default: the server's WARREN_DLQ_MAX_REQUEUES (${ENV_SETTINGS.dlqMaxRequeues.default} unless set).` }),
                keepAttempts: z.boolean().optional().meta({ description: 'Keep x-warren-attempt instead of resetting it to 1. Default false.' }),
                force: z.boolean().optional().meta({ description: 'Use a queue the topology does not know as a DLQ. Default false.' }),
              })
              .strict(),
          },
        },
      },
    },
    responses: {
      200: json(dlqRequeueReportSchema, 'The run finished; `report` counts every message.'),
      ...dlqErrors,
      503: json(
        z.object({ error: errorSchema.shape.error, report: dlqRequeueReportSchema.optional() }),
        'The broker is unreachable, or the run stopped early (connection lost ...): `error` says why and, when the run had started, `report` what was done.',
      ),
    },
  });
  const scanQuery = z.object({
    ...dlqFilterFields,
    limit: z.coerce.number().int().positive().optional().meta({ description: 'Stop after this many matching messages.' }),
    maxRequeues: z.coerce.number().int().nonnegative().optional().meta({ description: `Counted as over the cap. Default: the server's WARREN_DLQ_MAX_REQUEUES (${ENV_SETTINGS.dlqMaxRequeues.default} unless set).` }),
  });
  if (dlq.groups !== undefined) {
    r.registerPath({
      method: 'get',
      path: '/v1/dlq/{queue}/groups',
      tags: ['dlq'],
      summary: 'The matching dead letters grouped by origin queue, reason and error class, with counts and ages (the queue is left as it was)',
      security: secured,
      request: {
        params: queue,
        query: scanQuery.extend({
          fresh: z.enum(['true', 'false', '1', '0']).optional().meta({ description: 'Count again even when a recent count is still valid (see `cached`).' }),
          stale: z.enum(['true', 'false', '1', '0']).optional().meta({ description: 'Any earlier count will do, whatever its age or the queue\'s depth since (`scannedAt` says when); count only when there is none. For summaries that must not hold the queue on every view.' }),
        }),
      },
      responses: { 200: json(dlqGroupsSchema, 'The groups.'), ...dlqErrors },
    });
  }
  if (dlq.purge !== undefined) {
    r.registerPath({
      method: 'post',
      path: '/v1/dlq/{queue}/purge',
      tags: ['dlq'],
      summary: 'Delete the matching dead letters (no filter: all of them); `dryRun` counts them. Same code as `warren dlq purge`',
      security: secured,
      request: {
        params: queue,
        body: {
          required: false,
          content: {
            'application/json': {
              schema: z
                .object({
                  route: asArray('Route names'),
                  reason: asArray('Reasons or error classes'),
                  errorClass: asArray('Error classes'),
                  origin: asArray('Origin queues'),
                  id: asArray('Message ids or job ids'),
                  group: asArray('Failure group ids'),
                  since: dlqFilterFields.since,
                  before: dlqFilterFields.before,
                  limit: z.number().int().positive().optional().meta({ description: 'Delete at most this many messages.' }),
                  dryRun: z.boolean().optional().meta({ description: 'Count what would be deleted; change nothing. Default false.' }),
                  force: z.boolean().optional().meta({ description: 'Use a queue the topology does not know as a DLQ. Default false.' }),
                })
                .strict(),
            },
          },
        },
      },
      responses: { 200: json(dlqPurgeReportSchema, 'What was (dry run: would be) deleted.'), ...dlqErrors },
    });
  }
  if (dlq.export !== undefined) {
    r.registerPath({
      method: 'get',
      path: '/v1/dlq/{queue}/export',
      tags: ['dlq'],
      summary: 'The matching dead letters as NDJSON (body, headers, properties), removing nothing; the lines of `warren dlq export`',
      security: secured,
      request: { params: queue, query: scanQuery },
      responses: { 200: { description: 'One JSON document per line.', content: { 'application/x-ndjson': { schema: z.string() } } }, ...dlqErrors },
    });
  }
}
