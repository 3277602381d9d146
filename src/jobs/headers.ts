/**
 * Header names warren writes on messages. They are the contract between the
 * API (publisher), the workers (retry / dead-letter / forward) and the DLQ
 * tooling, and what an operator reads in the management UI. No other file
 * spells a header name.
 */
export const HEADERS = {
  /** Attempt number of the delivery the worker will run (absent = 1 on a first publish). Never derived from x-death. */
  attempt: 'x-warren-attempt',
  /** On the API's job-event messages: the API process that wrote them (its tail skips its own, already applied). */
  replica: 'x-warren-replica',
  /** On job-event messages: `v1.<keyId>.<HMAC>` over the type and body (job-event-signature.ts); the status tail skips messages without a valid one. */
  eventSignature: 'x-warren-signature',
  /** Route the job was published through. */
  route: 'x-warren-route',
  /** W3C trace context carried from the HTTP request. */
  traceparent: 'traceparent',
  /** Exchange the job was first published to (kept across retries and requeues; `''` is the default exchange). */
  originExchange: 'x-warren-origin-exchange',
  /** Routing key the job was first published with. */
  originRoutingKey: 'x-warren-origin-routing-key',
  /** Queue the job was consumed from when it failed. */
  originQueue: 'x-warren-origin-queue',
  /** Error class of the last failure (see the disposition table). */
  errorClass: 'x-warren-error-class',
  /** Error message of the last failure, truncated and scrubbed of secrets. */
  errorMessage: 'x-warren-error-message',
  /** Attempts made before dead-lettering. */
  attempts: 'x-warren-attempts',
  /** ISO time the job was dead-lettered by warren. */
  failedAt: 'x-warren-failed-at',
  /** Why the job was dead-lettered: an error class, `attempts-exhausted` or `invalid-payload`. */
  reason: 'x-warren-reason',
  /** Times the DLQ tooling sent this message back to its origin. */
  requeued: 'x-warren-requeued',
  /** ISO time of the last requeue. */
  requeuedAt: 'x-warren-requeued-at',
  /** Dead-letter queue the message was last requeued from. */
  requeuedFrom: 'x-warren-requeued-from',
  /** Delay the retry waited, in ms (diagnostics). */
  retryDelay: 'x-warren-retry-delay-ms',
  /** Routes a job was forwarded to by `onError: {route}` overrides, comma-separated (a forward never loops). */
  forwardedTo: 'x-warren-forwarded-to',
  /** Route the job was on before its last forward. */
  forwardedFrom: 'x-warren-forwarded-from',
  /** On jobs of the OpenAI front door (`POST /v1/chat/completions`): the handler returns the provider's completion as is (value `chat.completion`). */
  replyFormat: 'x-warren-reply-format',
} as const;

/** Maximum length of `x-warren-error-message`. */
export const ERROR_MESSAGE_MAX = 500;

/**
 * Headers the broker owns, removed from every message warren republishes
 * (retry, dead letter, forward, requeue). `x-death` / `x-*-death-*` and
 * `x-delivery-count`: RabbitMQ 3.x keeps a republished x-death (and counts on
 * top of it), 4.x ignores it; warren keeps its own counters. `CC` / `BCC` are
 * sender-selected routing: a republish goes where warren sends it and nowhere
 * a header names (a `CC` naming the job-events stream would plant a copy there).
 */
export const BROKER_OWNED_HEADERS: ReadonlySet<string> = new Set([
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
  'CC',
  'BCC',
]);

/** The failure headers of a dead letter: a requeue undoes that death, a new failure writes fresh ones. */
export const FAILURE_HEADERS: readonly string[] = [HEADERS.errorClass, HEADERS.errorMessage, HEADERS.failedAt, HEADERS.reason, HEADERS.attempts];

/**
 * Headers of ordered routes (docs/ordered-routes.md). Written only by warren:
 * the API sets the key from the job (scoped to the submitting API key), the
 * worker sets `blockedBy` when it moves a job of a blocked key aside.
 */
export const ORDER_HEADERS = {
  /** `<owner>/<key>`: what the consistent-hash exchange hashes and what a worker orders and blocks by. */
  key: 'x-warren-order-key',
  /** On a job moved aside because its key is blocked: the id of the dead-lettered job that blocks it. */
  blockedBy: 'x-warren-blocked-by',
} as const;
