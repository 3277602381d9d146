/**
 * Header names warren writes on messages. They are the contract between the
 * API (publisher), the workers (retry / dead-letter) and the DLQ tooling, and
 * what an operator reads in the management UI.
 */
export const HEADERS = {
  /** Attempt number of the delivery the worker will run (1 on first publish). Never derived from x-death. */
  attempt: 'x-warren-attempt',
  /** On the API's job-event messages: the API process that wrote them (its tail skips its own, already applied). */
  replica: 'x-warren-replica',
  /** On job-event messages: `v1.<keyId>.<HMAC>` over the type and body (job-event-signature.ts); the status tail skips messages without a valid one. */
  eventSignature: 'x-warren-signature',
  /** Route the job was published through. */
  route: 'x-warren-route',
  /** W3C trace context carried from the HTTP request. */
  traceparent: 'traceparent',
  /** Exchange the job was first published to (kept across retries and requeues). */
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
  /** Delay the retry waited, in ms (diagnostics). */
  retryDelay: 'x-warren-retry-delay-ms',
} as const;

/** Maximum length of `x-warren-error-message`. */
export const ERROR_MESSAGE_MAX = 500;
