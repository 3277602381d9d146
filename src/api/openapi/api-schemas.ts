import { z } from 'zod';
import { jobEventSchema, jobStatusSchema } from '../../jobs/job-event.ts';
import { batchModeSchema } from '../jobs/batch-mode.ts';

/**
 * zod schemas of the API's responses. They are used only to generate the
 * OpenAPI document; handlers build plain objects (no per-request validation of
 * our own output on the hot path).
 */

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'VALIDATION_FAILED' }),
      message: z.string(),
      details: z.unknown().meta({ description: 'For validation errors: every failing field as {path, message, code}.' }),
    }),
  })
  .meta({ id: 'Error' });

export const jobAcceptedSchema = z
  .object({ id: z.string().meta({ format: 'uuid' }), route: z.string(), status: jobStatusSchema })
  .meta({ id: 'JobAccepted', description: 'The broker confirmed the job (it is stored in a queue).' });

export const attemptSchema = z
  .object({
    attempt: z.number().int(),
    status: jobStatusSchema,
    startedAt: z.string().optional(),
    endedAt: z.string().optional(),
    durationMs: z.number().optional().meta({ description: 'How long the handler ran, in ms.' }),
    error: z.object({ class: z.string(), message: z.string() }).optional(),
    retryInMs: z.number().optional(),
  })
  .meta({ id: 'Attempt' });

export const jobStatusViewSchema = z
  .object({
    id: z.string(),
    route: z.string().optional(),
    queue: z.string().optional(),
    status: jobStatusSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    attempts: z.array(attemptSchema),
    result: z.unknown().optional(),
    usage: jobEventSchema.shape.usage,
  })
  .meta({ id: 'JobStatus' });

export const batchResultSchema = z
  .object({
    route: z.string(),
    mode: batchModeSchema,
    accepted: z.number().int(),
    rejected: z.number().int(),
    jobs: z.array(
      z.object({
        index: z.number().int(),
        id: z.string().optional(),
        status: z.enum(['queued', 'rejected']),
        replayed: z.boolean().optional(),
        error: errorSchema.shape.error.optional(),
      }),
    ),
  })
  .meta({ id: 'BatchResult' });

export const publishAcceptedSchema = z
  .object({ id: z.string(), exchange: z.string(), routingKey: z.string(), status: jobStatusSchema })
  .meta({ id: 'PublishAccepted' });

export const routeListSchema = z
  .object({
    routes: z.array(
      z.object({
        name: z.string(),
        description: z.string().nullable(),
        exchange: z.string(),
        routingKey: z.string(),
        schema: z.string(),
        publishTimeoutMs: z.number(),
        payloadSchema: z.unknown(),
      }),
    ),
  })
  .meta({ id: 'RouteList' });

export const readinessSchema = z
  .object({
    status: z.literal('ready'),
    checks: z.object({ broker: z.boolean(), publisher: z.boolean(), topology: z.boolean(), statusIndex: z.boolean(), jobEventsStream: z.boolean().optional() }),
    history: z
      .object({
        indexed: z.boolean().meta({ description: 'Every retained offset of the job-events stream is indexed (false while a first start after an upgrade indexes it).' }),
        checkpoints: z.boolean().meta({ description: 'The checkpoint stream is there (without it a restarted replica re-indexes the stream).' }),
      })
      .optional(),
  })
  .meta({ id: 'Readiness' });

export const jobSummarySchema = z
  .object({
    id: z.string(),
    route: z.string().optional(),
    queue: z.string().optional(),
    status: jobStatusSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    attempts: z.number().int().meta({ description: 'Attempts made so far.' }),
  })
  .meta({ id: 'JobSummary' });

export const jobListSchema = z
  .object({
    jobs: z.array(jobSummarySchema),
    next: z.string().optional().meta({ description: "Pass as `before` for the next page; absent on the last one. A page may be shorter than `limit` and still have a `next` (each page reads a bounded part of the history)." }),
  })
  .meta({ id: 'JobList' });
