import { z } from 'zod';

/** Lifecycle states of a job, as shown by `GET /v1/jobs/{id}`. */
export const jobStatusSchema = z.enum(['queued', 'running', 'retrying', 'succeeded', 'failed', 'dead-lettered', 'requeued', 'blocked']);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** States after which a job changes no more (until an operator requeues it). */
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'dead-lettered']);

/**
 * One job lifecycle event, published to the job-events fanout exchange and kept
 * in the job-events stream. Every API replica replays the stream into its
 * status index, so status survives restarts with RabbitMQ as the only store.
 */
export const jobEventSchema = z.object({
  jobId: z.string().min(1),
  status: jobStatusSchema,
  route: z.string().optional(),
  queue: z.string().optional(),
  /** Attempt number this event belongs to (1-based). */
  attempt: z.number().int().nonnegative().default(0),
  /** ISO timestamp. */
  at: z.string(),
  error: z.object({ class: z.string(), message: z.string() }).optional(),
  /** Handler result (succeeded only). */
  result: z.unknown().optional(),
  /** LLM token usage (succeeded LLM jobs). */
  usage: z
    .object({
      promptTokens: z.number(),
      completionTokens: z.number(),
      totalTokens: z.number(),
      /** Prompt tokens the provider served from its cache (when it reports them). */
      cachedTokens: z.number().optional(),
      /** Cost of the job's LLM calls by the topology's price table (absent when a model has no price). */
      cost: z.number().optional(),
      /** Model of the job's (last) LLM call, as the provider named it. */
      model: z.string().optional(),
    })
    .optional(),
  /** Delay before the next attempt (retrying only). */
  retryInMs: z.number().optional(),
  /** How long the attempt's handler ran, in ms (on the event that ends an attempt, when a handler ran). */
  durationMs: z.number().nonnegative().optional(),
  /** Which process emitted it (`api`, `worker`, `dlq`). */
  source: z.string().optional(),
  /**
   * Name of the API key that submitted the job (never the key or its hash):
   * written by the API on `queued` only. The status index keeps the first one
   * it sees and shows the job only to that key and to keys that read all.
   */
  owner: z.string().optional(),
  /** `blocked` only: the dead-lettered job of the same ordering key that holds this one back (docs/ordered-routes.md). */
  blockedBy: z.string().optional(),
  /**
   * Tokens the API reserved for the job against its key's daily budget
   * (`queued` of front-door jobs only): every replica counts them until the
   * job reports its usage (src/api/openai/usage-ledger.ts).
   */
  reservedTokens: z.number().int().nonnegative().optional(),
  /**
   * `dead-lettered` and `blocked`: what the worker wrote on the dead letter it
   * published (its x-warren-reason, origin and failed-at headers, and how often
   * the DLQ tooling had requeued it), so an API counts failure groups from the
   * events instead of reading the queue (docs/console.md).
   */
  deadLetter: z
    .object({
      reason: z.string(),
      originExchange: z.string(),
      originRoutingKey: z.string(),
      failedAt: z.string(),
      requeued: z.number().int().nonnegative().default(0),
    })
    .optional(),
  /** `requeued` only: the dead-letter queue the job was taken out of. */
  fromQueue: z.string().optional(),
  /**
   * `queued` only: the job's message body as published (JSON text), whole or
   * its first `jobEvents.payloadBytes` bytes (see job-event-payload.ts). On the
   * stream only for handler follow-up jobs; the API's batcher moves it into a
   * `job.payloads` message. Tenant data: read back on demand for
   * `GET /v1/jobs/{id}/payload`, never held by the status index, never logged.
   */
  payload: z.string().optional(),
  /** With `payload`: the size in bytes of the whole body (more than `payload` holds when it was cut at the cap). */
  payloadBytes: z.number().int().nonnegative().optional(),
});
export type JobEvent = z.infer<typeof jobEventSchema>;
