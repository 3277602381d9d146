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
    blockedBy: z.string().optional().meta({ description: "Status 'blocked' only (ordered routes): the dead-lettered job of the same key that holds this one back." }),
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

// ---- Dead-letter endpoints (src/api/routes/dlq.ts). The handlers answer what the DLQ operations return;
// these schemas describe those objects field by field. DlqOperations (src/api/dlq-operations.ts) returns
// their input types, so the compiler refuses, where src/cli wires src/dlq in, a documented field that the
// DLQ tooling's types do not have (or have with another type).

const dlqOriginSchema = z.object({
  exchange: z.string(),
  routingKey: z.string(),
  queue: z.string().optional().meta({ description: 'Queue the message died in, when known.' }),
  source: z.enum(['x-warren-origin', 'x-death', 'x-last-death', 'x-first-death']).meta({ description: 'Which headers the origin was read from.' }),
});

const countsSchema = z.record(z.string(), z.number().int());

export const dlqSummarySchema = z
  .object({
    queue: z.string(),
    total: z.number().int().meta({ description: 'Ready messages when the read started.' }),
    scanned: z.number().int(),
    matched: z.number().int().meta({ description: 'Messages that passed the filters.' }),
    truncated: z.boolean().meta({ description: 'The queue held more than one read can hold (65,535), or `limit` stopped the scan.' }),
    byKind: countsSchema,
    byRoute: countsSchema,
    byReason: countsSchema,
    byErrorClass: countsSchema,
    byOrigin: countsSchema,
    unknownOrigin: z.number().int().meta({ description: 'Matched messages whose origin cannot be determined (a requeue leaves them in place).' }),
    overCap: z.number().int().meta({ description: 'Matched messages already requeued `maxRequeues` times (a requeue skips them).' }),
    maxRequeues: z.number().int(),
    alreadyRequeued: z.number().int(),
    oldest: z.string().optional(),
    newest: z.string().optional(),
    blockedKeys: z
      .array(z.object({ key: z.string(), blockedBy: z.string(), waiting: z.number().int() }))
      .optional()
      .meta({ description: 'Ordered routes: each blocked key among the matched, the job that blocks it and how many wait behind it.' }),
  })
  .meta({ id: 'DlqSummary' });

export const dlqMessageSchema = z
  .object({
    index: z.number().int().meta({ description: 'Position in the queue (0 = head).' }),
    messageId: z.string().optional(),
    jobId: z.string().optional(),
    kind: z.enum(['warren', 'broker', 'unknown']).meta({ description: 'Who dead-lettered it: a warren worker (x-warren-* headers) or the broker (x-death).' }),
    reason: z.string(),
    errorClass: z.string().optional(),
    errorMessage: z.string().optional(),
    route: z.string().optional(),
    origin: dlqOriginSchema.optional(),
    originProblem: z.string().optional().meta({ description: 'Why the origin is unknown (only without `origin`).' }),
    failedAt: z.string().optional(),
    attempts: z.number().int().optional(),
    requeued: z.number().int().meta({ description: 'Times the DLQ tooling already requeued it (x-warren-requeued).' }),
    redelivered: z.boolean(),
    bodyBytes: z.number().int(),
    bodyPreview: z.string().meta({ description: 'The first 200 characters of the body.' }),
    orderKey: z.string().optional().meta({ description: 'Ordered routes: the ordering key (`<api key name>/<key>`).' }),
    blockedBy: z.string().optional().meta({ description: 'Ordered routes: the dead-lettered job that blocks this one.' }),
  })
  .meta({ id: 'DlqMessage' });

export const dlqListingSchema = z
  .object({
    queue: z.string(),
    summary: dlqSummarySchema,
    messages: z.array(dlqMessageSchema),
    warnings: z.array(z.string()),
    offset: z.number().int(),
    pageSize: z.number().int(),
  })
  .meta({ id: 'DlqListing', description: 'A summary of the matching dead letters and one page of them; the queue is left exactly as it was.' });

const requeueNoteSchema = z.object({ messageId: z.string().optional(), reason: z.string(), detail: z.string() });

export const dlqRequeueReportSchema = z
  .object({
    queue: z.string(),
    action: z.enum(['requeue', 'drop']),
    dryRun: z.boolean(),
    total: z.number().int(),
    snapshot: z.number().int(),
    scanned: z.number().int(),
    selected: z.number().int(),
    moved: z.number().int().meta({ description: 'Delivered to their destination and removed from the DLQ (dry run: would be).' }),
    skipped: z.object({ filtered: z.number().int(), capped: z.number().int(), unknownOrigin: z.number().int(), notScanned: z.number().int() }),
    failed: z.number().int().meta({ description: 'Left in the DLQ because the republish failed.' }),
    deduplicated: z.number().int(),
    possibleDuplicates: z.number().int(),
    unacked: z.number().int(),
    destinations: countsSchema,
    unknownOrigins: z.array(requeueNoteSchema),
    failures: z.array(requeueNoteSchema),
    plan: z.array(z.object({ messageId: z.string().optional(), reason: z.string(), to: z.string() })),
    interrupted: z.boolean(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    eventErrors: z.number().int(),
    warnings: z.array(z.string()),
    durationMs: z.number(),
    rate: z.number(),
    journal: z.string().optional(),
  })
  .meta({ id: 'DlqRequeueReport' });

export const dlqGroupSchema = z
  .object({
    id: z.string().meta({ description: 'Pass as the `group` filter to select exactly this group (also `warren dlq requeue <queue> --group <id>`).' }),
    origin: z.string().meta({ description: 'Origin queue, or `(none)` when unknown.' }),
    reason: z.string(),
    errorClass: z.string().meta({ description: 'x-warren-error-class, or `(none)`.' }),
    count: z.number().int(),
    routes: countsSchema,
    unknownOrigin: z.number().int().meta({ description: 'Messages whose origin is unknown (a requeue to origin leaves them in place).' }),
    overCap: z.number().int().meta({ description: 'Messages already requeued `maxRequeues` times (a requeue skips them).' }),
    oldest: z.string().optional().meta({ description: 'ISO time of the oldest death in the group.' }),
    newest: z.string().optional().meta({ description: 'ISO time of the newest death in the group.' }),
    sampleError: z.string().optional().meta({ description: 'The newest error message seen (300 characters at most).' }),
  })
  .meta({ id: 'DlqGroup' });

export const dlqGroupsSchema = z
  .object({
    queue: z.string(),
    total: z.number().int().meta({ description: 'Ready messages when the read started.' }),
    scanned: z.number().int(),
    matched: z.number().int(),
    truncated: z.boolean().meta({ description: 'The queue held more than one read can hold (65,535), or `limit` stopped the scan.' }),
    groups: z.array(dlqGroupSchema).meta({ description: 'Largest first.' }),
    warnings: z.array(z.string()),
    scannedAt: z.string().optional().meta({ description: 'When the queue was read for this count.' }),
    cached: z.boolean().optional().meta({ description: 'True when this is an earlier count, reused: younger than 60 s, the queue holding as many messages as then, and no requeue or purge through this API since. `fresh=true` counts again.' }),
    source: z.enum(['events', 'scan']).optional().meta({ description: "`events`: counted from the job events this API replica follows, without reading the queue (the events account for at least as many messages as the queue holds); `scan`: counted by reading the whole queue (`fresh=true`, `limit`, the events not restored yet, or the queue holding fewer messages than the events say)." }),
    unaccounted: z.number().int().optional().meta({ description: '`source: events` only: messages the queue holds that no job event accounts for (dead-lettered by the broker, published by hand, or older than the job-events stream); they are in no group: `fresh=true` reads the queue and groups them too.' }),
  })
  .meta({ id: 'DlqGroups', description: 'The matching dead letters grouped by origin queue, reason and error class; the queue is left exactly as it was.' });

export const dlqPurgeReportSchema = z
  .object({
    queue: z.string(),
    dryRun: z.boolean(),
    purged: z.number().int().meta({ description: 'Messages removed (dry run: that would be).' }),
    selective: dlqRequeueReportSchema.optional().meta({ description: 'With filters: the requeue engine\'s tally with action `drop`.' }),
    warnings: z.array(z.string()),
  })
  .meta({ id: 'DlqPurgeReport' });

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
