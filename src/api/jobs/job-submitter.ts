import type { PublishRequest } from '../../broker/confirm-publisher.ts';
import { isWarrenError } from '../../errors/index.ts';
import type { JobEvent } from '../../jobs/job-event.ts';
import { eventPayload, type EventPayloadFields } from '../../jobs/job-event-payload.ts';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';
import type { JobMeta, PlainMessage, PreparedJob, Submitter } from '../../submit/submitter.ts';
import type { ApiMetrics, PublishOutcome } from '../metrics/api-metrics.ts';
import type { JobEventSink } from '../status/job-event-batcher.ts';
import type { JobStatusIndex } from '../status/job-status-index.ts';

/** The part of the confirm publisher the API needs (narrow, so unit tests can fake it). */
export interface PublisherLike {
  publish(request: PublishRequest): Promise<void>;
  isReady(): boolean;
}

/** Per-request message metadata. */
export interface MessageMeta extends JobMeta {
  /** Name of the API key that submits the job: only it (and keys that read all) can read the job. */
  owner: string;
  traceparent: string;
  /** The id comes from an Idempotency-Key: other replicas de-duplicate on it, so its `queued` event is not held back. */
  idempotent?: boolean;
  /** Tokens reserved against the key's budget (front door): written on the `queued` event for every replica's usage ledger. */
  reservedTokens?: number;
  /** The `queued` event's payload fields, computed where the body is (the batch thread) when the job here has none. */
  eventPayload?: EventPayloadFields;
}

/** A job the API validated, ready to publish. */
export type ApiJob = PreparedJob<MessageMeta>;

/** Body of POST /v1/publish/{exchange}, already validated. */
export type ExchangeMessageInput = PlainMessage;

/**
 * The API's side of submitting: the submit use case (src/submit) plus what
 * only the API keeps, publish metrics per route and outcome, the `queued`
 * event and this replica's status index. Errors stay typed; the app's one
 * error handler (http/to-api-error.ts) turns them into HTTP answers.
 */
export interface JobSubmitter {
  /** Validates a route payload and builds its message (JobValidationError, RoutingKeyError). `text`: see Submitter.prepare. */
  prepareRouteJob(route: CompiledRoute, payload: unknown, meta: MessageMeta, text?: string): ApiJob;
  /** Builds a raw message for POST /v1/publish/{exchange}. */
  prepareExchangeMessage(input: ExchangeMessageInput, meta: MessageMeta): ApiJob;
  /** Publishes and resolves after the broker's confirm; rejects with JobPublishError. Emits the `queued` event without waiting for it. */
  publish(job: ApiJob): Promise<void>;
}

/** Collaborators of {@link createJobSubmitter}. */
export interface JobSubmitterDeps {
  submitter: Submitter;
  events: JobEventSink;
  index: JobStatusIndex;
  metrics: ApiMetrics;
  /** Bytes of each job's body its `queued` event carries to the batcher, which writes them beside it (topology `jobEvents.payloadBytes`; 0: none). */
  payloadBytes: number;
}

let isoMs = 0;
let isoText = '';
/** ISO time of now, formatted once per millisecond: under load many jobs share a millisecond. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

function outcomeOf(err: unknown): PublishOutcome {
  const code = isWarrenError(err) ? err.code : undefined;
  if (code === 'UNROUTABLE') return 'unroutable';
  if (code === 'PUBLISH_REJECTED') return 'rejected';
  if (code === 'PUBLISH_TIMEOUT') return 'timeout';
  return 'unavailable';
}

/** Creates the API's submitter over the submit use case. */
export function createJobSubmitter(deps: JobSubmitterDeps): JobSubmitter {
  const { submitter } = deps;
  return {
    prepareRouteJob(route, payload, meta, text) {
      try {
        return submitter.prepare(route, payload, meta, text);
      } catch (err) {
        deps.metrics.publish(route.name, 'invalid');
        throw err;
      }
    },

    prepareExchangeMessage(input, meta) {
      return submitter.prepareMessage(input, meta);
    },

    async publish(job) {
      const label = job.route ?? `exchange:${job.exchange}`;
      const started = performance.now();
      try {
        await submitter.publish(job);
      } catch (err) {
        deps.metrics.publish(label, outcomeOf(err));
        throw err;
      }
      deps.metrics.confirmLatency(label, (performance.now() - started) / 1000);
      deps.metrics.publish(label, 'accepted');
      const event: JobEvent = { jobId: job.id, status: 'queued', attempt: 1, at: nowIso(), source: 'api', owner: job.meta.owner };
      if (job.route !== undefined) event.route = job.route;
      if (job.meta.reservedTokens !== undefined) event.reservedTokens = job.meta.reservedTokens;
      // The body as published (already serialised): the history reads it back for the job page, the index ignores it.
      const payload = job.meta.eventPayload ?? eventPayload(job.content, deps.payloadBytes);
      if (payload !== undefined) {
        event.payload = payload.payload;
        event.payloadBytes = payload.payloadBytes;
      }
      // This replica answers GET /v1/jobs/{id} at once; the others learn it from the stream.
      deps.index.apply(event);
      // Prompt for budgeted jobs too: other replicas count their reservation from this event.
      deps.events.emit(event, job.meta.idempotent === true || job.meta.reservedTokens !== undefined);
    },
  };
}
