import { z } from 'zod';
import { byteSizeSchema, durationSchema } from './duration.ts';
import { modelPriceSchema, openAiSchema } from './openai-schema.ts';

/**
 * The schema of `topology.yaml`, version 1. Every object is strict: an unknown
 * key is an error (a typo must never silently become a default).
 * Defaults live here, next to each option, and nowhere else.
 */

const name = z.string().min(1).max(255);

/** Where warren finds the broker. */
export const connectionSchema = z
  .object({
    /**
     * One AMQP URL, or several for a cluster (warren connects to any live one). An entry may hold
     * several comma-separated URLs, so one variable can name a whole cluster (`WARREN_AMQP_URL=amqp://a,amqp://b`).
     */
    urls: z
      .preprocess(
        (v) => (Array.isArray(v) ? v.flatMap((u) => (typeof u === 'string' && u.includes(',') ? u.split(',').map((s) => s.trim()).filter((s) => s !== '') : [u])) : v),
        z.array(z.string().regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://')).min(1),
      )
      .default(['amqp://guest:guest@127.0.0.1:5672']),
    /** Management HTTP API base URL (credentials may be inline). @default http://guest:guest@127.0.0.1:15672 */
    management: z.string().regex(/^https?:\/\//, 'must start with http:// or https://').default('http://guest:guest@127.0.0.1:15672'),
    /** Virtual host every object lives in. @default / */
    vhost: z.string().min(1).default('/'),
    /** AMQP heartbeat in seconds. @default 10 */
    heartbeat: z.number().int().min(0).max(600).default(10),
    /** The broker's `consumer_timeout`; consumer timeouts must stay below it. @default 30m */
    consumerTimeout: durationSchema.default(1_800_000),
  })
  .strict();

export const exchangeTypeSchema = z.enum(['direct', 'topic', 'fanout', 'headers']);

export const exchangeSchema = z
  .object({
    type: exchangeTypeSchema,
    /** @default true */
    durable: z.boolean().default(true),
    /** @default false */
    autoDelete: z.boolean().default(false),
    /** Internal exchanges accept messages only from other exchanges. @default false */
    internal: z.boolean().default(false),
    /** Where messages that match no binding go instead of being returned. */
    alternateExchange: name.optional(),
  })
  .strict();

export const overflowSchema = z.enum(['drop-head', 'reject-publish', 'reject-publish-dlx']);

export const deadLetterSchema = z
  .object({
    /** Exchange dead letters are published to (`""` is the default exchange). */
    exchange: z.string(),
    /** Routing key to use instead of the message's own. */
    routingKey: z.string().optional(),
  })
  .strict();

/** `ordering` of a queue: expands into a consistent-hash exchange and `partitions` single-active-consumer quorum queues. */
export const orderingSchema = z
  .object({
    /** `{field}` / `{input.customerId}` (a field of the job, dots for nested objects) or an HTTP request header name (e.g. `X-Customer-Id`). */
    key: z
      .string()
      .regex(/^(\{[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,4}\}|[A-Za-z0-9][A-Za-z0-9-]{0,99})$/, 'must be {field} or {field.subfield} (a job field) or a header name such as X-Customer-Id'),
    /** Partition queues; a key always lands on the same one. Changing it later is a migration (see `warren topology plan`). */
    partitions: z.number().int().min(1, 'partitions must be at least 1').max(256),
  })
  .strict();

export const queueSchema = z
  .object({
    /** classic, quorum (replicated, at-least-once capable) or stream (append-only log). @default classic */
    type: z.enum(['classic', 'quorum', 'stream']).default('classic'),
    /** @default true */
    durable: z.boolean().default(true),
    /** @default false */
    autoDelete: z.boolean().default(false),
    /** Dead-letter target (managed by policy: can change in place). */
    deadLetter: deadLetterSchema.optional(),
    /** Per-queue message TTL (policy). */
    messageTtl: durationSchema.optional(),
    /** Max ready messages (policy). */
    maxLength: z.number().int().nonnegative().optional(),
    /** Max total body bytes of ready messages (policy). */
    maxLengthBytes: byteSizeSchema.optional(),
    /** What happens when max length is reached (policy). @default drop-head (broker default) */
    overflow: overflowSchema.optional(),
    /** Quorum only: deliveries before the broker dead-letters a message (policy). */
    deliveryLimit: z.number().int().positive().optional(),
    /** Quorum only: `at-least-once` needs `overflow: reject-publish` (policy). */
    deadLetterStrategy: z.enum(['at-most-once', 'at-least-once']).optional(),
    /** Classic only: enables priorities 0..maxPriority (argument, fixed at creation). */
    maxPriority: z.number().int().min(1).max(255).optional(),
    /** Stream only: retention (argument, fixed at creation). */
    retention: z
      .object({ maxAge: durationSchema.optional(), maxLengthBytes: byteSizeSchema.optional() })
      .strict()
      .optional(),
    /** Name of a retry policy in `retryPolicies`: expands into TTL'd wait queues. */
    retry: name.optional(),
    /** Per-key order (docs/ordered-routes.md): partitions by key, one job of a key at a time; a dead-lettered job blocks its key. */
    ordering: orderingSchema.optional(),
  })
  .strict();

export const headersMatchSchema = z
  .object({
    /** `all`: every header must match; `any`: one is enough. @default all */
    match: z.enum(['all', 'any']).default('all'),
    values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  })
  .strict();

export const bindingSchema = z
  .object({
    /** Source exchange. */
    source: name,
    /** Destination queue (give exactly one of queue / exchange). */
    queue: name.optional(),
    /** Destination exchange, for exchange-to-exchange bindings. */
    exchange: name.optional(),
    /** Binding key for direct and topic exchanges. @default "" */
    routingKey: z.string().max(255).optional(),
    /** Header match for headers exchanges. */
    headers: headersMatchSchema.optional(),
  })
  .strict();

export const retryPolicySchema = z
  .object({
    /** Total attempts including the first one. @default 5 */
    attempts: z.number().int().min(1).max(100).default(5),
    /** Delay tiers; attempt n waits backoff[min(n-1, last)]. Each tier becomes a wait queue. */
    backoff: z.array(durationSchema).min(1).max(20),
    /** Random spread applied to each delay, 0..1. @default 0.1 */
    jitter: z.number().min(0).max(1).default(0.1),
  })
  .strict();

export const routeSchema = z
  .object({
    /** Exchange the API publishes this route's jobs to. */
    exchange: name,
    /** Routing key; `{field}` placeholders are filled from the job (e.g. `llm.{priority}.chat`). */
    routingKey: z.string().max(255).default(''),
    /** Payload schema name (see README: built-in `chat-completion`, `task`, or `consumers/schemas/<name>.ts`). */
    schema: name,
    /** How long the API waits for the broker's confirm. @default 5s */
    publishTimeout: durationSchema.default(5_000),
    /** Values for placeholders the job omits. */
    defaults: z.record(z.string(), z.string()).default({}),
    /** Free text shown in /v1/routes and the OpenAPI document. */
    description: z.string().optional(),
  })
  .strict();

export const rateLimitSchema = z
  .object({
    /** Requests per minute. */
    rpm: z.number().int().positive().optional(),
    /** Tokens per minute (prompt + completion). */
    tpm: z.number().int().positive().optional(),
  })
  .strict();

export const providerSchema = z
  .object({
    /** OpenAI-compatible base URL, e.g. https://api.openai.com/v1. */
    baseURL: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
    /** API key; write `${OPENAI_API_KEY}` rather than the key itself. */
    apiKey: z.string().default(''),
    /** Request timeout per LLM call. @default 60s */
    timeout: durationSchema.default(60_000),
    /** Budget for the whole provider. */
    limits: rateLimitSchema.optional(),
    /** Budgets per model name. */
    models: z.record(z.string(), z.object({ limits: rateLimitSchema.optional(), /** Price per million tokens: each job's cost (status, events, /metrics). */ price: modelPriceSchema.optional() }).strict()).default({}),
  })
  .strict();

export const errorClassSchema = z.enum([
  'rate-limited',
  'server-error',
  'timeout',
  'connection',
  'bad-request',
  'context-length',
  'auth',
  'not-found',
  'unprocessable',
  'content-filter',
  'invalid-payload',
  'permanent',
  'transient',
  'unknown',
]);

export const dispositionSchema = z.union([
  z.enum(['retry', 'dead-letter']),
  z.object({ route: name }).strict(),
]);

export const consumerSchema = z
  .object({
    /** Queue to consume. */
    queue: name,
    /** Handler module in `consumers/` (without extension), e.g. `chat-completion`. */
    handler: name,
    /** Route whose payload schema validates each job (defaults to a route publishing to this queue, if unique). */
    route: name.optional(),
    /** Unacked deliveries the broker may push. @default 10 */
    prefetch: z.number().int().min(1).max(65535).default(10),
    /** Jobs running at once; bounded by prefetch. @default prefetch */
    concurrency: z.number().int().min(1).optional(),
    /** Per-job deadline (AbortSignal). Must stay below the broker's consumer_timeout. @default 60s */
    timeout: durationSchema.default(60_000),
    /** LLM provider name from `providers`. */
    provider: name.optional(),
    /** Model used for every job of this consumer instead of the job's own `model` (e.g. the bigger model behind a fallback route). */
    model: name.optional(),
    /** Where a succeeded job's result is published (besides the job event stream). */
    results: z.object({ exchange: name, routingKey: z.string().default('') }).strict().optional(),
    /** Per error class override of the disposition table. */
    onError: z.partialRecord(errorClassSchema, dispositionSchema).default({}),
    /** The handler relays the provider's stream (`stream: true` on the OpenAI front door); false: such requests get a 400. @default false */
    streaming: z.boolean().default(false),
  })
  .strict();

/**
 * Job events and the job status kept from them. The defaults hold `maxAge` at
 * about 25 jobs/s averaged over the week (~1.2 KB of stream per job: a
 * `queued` event, a `succeeded` one with a 500-character answer, message
 * overhead); with `payloadBytes` on, each job's payload too (~14 jobs/s with 1 KB
 * payloads); above that, `maxLengthBytes` cuts history sooner, and the API
 * warns at start-up with the rate it sees (README, "Job status").
 */
/**
 * Default of `jobEvents.payloadBytes`: off. Payloads share the job-events stream with the events, so
 * a history segment holds fewer jobs and status lookups of old jobs read more (bench/status-bench.ts
 * --quick, 1 KB payloads: GET p50 30 -> 91 ms, p99 284 -> 350 ms); a deployment opts in.
 */
export const DEFAULT_EVENT_PAYLOAD_BYTES = 0;

export const jobEventsSchema = z
  .object({
    /** Fanout exchange job lifecycle events are published to. @default warren.events */
    exchange: name.default('warren.events'),
    /** Stream queue holding the events: every job's status, result and Idempotency-Key for `maxAge`. @default warren.events.log */
    stream: name.default('warren.events.log'),
    /**
     * Small stream of job-history checkpoints (which part of `stream` holds
     * which jobs): what an API replica reads at start instead of the whole
     * stream. Retained as long as `stream`, at 1/100 of its size. @default warren.events.checkpoints
     */
    checkpointStream: name.default('warren.events.checkpoints'),
    /** How long events are kept: the window of GET /v1/jobs/{id}, listings and Idempotency-Keys. @default 7d */
    maxAge: durationSchema.default(7 * 86_400_000),
    /** Max bytes of events kept (disk). @default 20GB: 7 days at ~25 jobs/s of ~1.2 KB */
    maxLengthBytes: byteSizeSchema.default(20_000_000_000),
    /**
     * Jobs an API replica keeps in its in-memory status cache (~1.3 KB each
     * with a 500-character result). Older jobs are read from the stream when
     * asked for (tens of milliseconds). @default 30000
     */
    indexSize: z.number().int().positive().default(30_000),
    /**
     * Bytes of each job's payload written with its `queued` event, for the
     * console's job page and `GET /v1/jobs/{id}/payload`: a longer payload
     * keeps its first `payloadBytes` and is marked cut. The stream holds them
     * (counted in `maxLengthBytes`); the status index never does. 0 (the
     * default) keeps none: opt in, e.g. 64KiB, knowing it slows status lookups
     * of old jobs (see DEFAULT_EVENT_PAYLOAD_BYTES). @default 0
     */
    payloadBytes: byteSizeSchema.pipe(z.number().int().nonnegative().max(16 * 1024 * 1024, 'at most 16MiB: each payload rides in a job-events stream message')).default(DEFAULT_EVENT_PAYLOAD_BYTES),
  })
  .strict();

export const topologySchema = z
  .object({
    version: z.literal(1),
    connection: connectionSchema.default(connectionSchema.parse({})),
    exchanges: z.record(name, exchangeSchema).default({}),
    queues: z.record(name, queueSchema).default({}),
    bindings: z.array(bindingSchema).default([]),
    retryPolicies: z.record(name, retryPolicySchema).default({}),
    routes: z.record(name, routeSchema).default({}),
    providers: z.record(name, providerSchema).default({}),
    consumers: z.record(name, consumerSchema).default({}),
    jobEvents: jobEventsSchema.default(jobEventsSchema.parse({})),
    /** The OpenAI-compatible front door (POST /v1/chat/completions); absent: not served. */
    openai: openAiSchema.optional(),
  })
  .strict();

/** A parsed, defaulted topology file. */
export type Topology = z.infer<typeof topologySchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type ExchangeConfig = z.infer<typeof exchangeSchema>;
export type QueueConfig = z.infer<typeof queueSchema>;
export type BindingConfig = z.infer<typeof bindingSchema>;
export type RetryPolicyConfig = z.infer<typeof retryPolicySchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ConsumerConfig = z.infer<typeof consumerSchema>;
export type ErrorClass = z.infer<typeof errorClassSchema>;
export type Disposition = z.infer<typeof dispositionSchema>;
export type JobEventsConfig = z.infer<typeof jobEventsSchema>;
export type OrderingConfig = z.infer<typeof orderingSchema>;
