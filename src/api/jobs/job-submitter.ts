import type { Options } from 'amqplib';
import type { PublishRequest } from '../../broker/confirm-publisher.ts';
import { HEADERS } from '../../jobs/headers.ts';
import type { JobEvent } from '../../jobs/job-event.ts';
import { ApiError } from '../api-error.ts';
import { toApiError } from '../http/to-api-error.ts';
import { zodProblems } from '../http/validation-details.ts';
import type { ApiMetrics, PublishOutcome } from '../metrics/api-metrics.ts';
import type { JobEventSink } from '../status/job-event-batcher.ts';
import type { JobStatusIndex } from '../status/job-status-index.ts';
import type { CompiledRoute } from './route-catalog.ts';
import { sameJsonValue } from './same-json-value.ts';

/** The part of the confirm publisher the API needs (narrow, so unit tests can fake it). */
export interface PublisherLike {
  publish(request: PublishRequest): Promise<void>;
  isReady(): boolean;
}

/** A validated job, ready to publish. */
export interface PreparedJob {
  id: string;
  /** Name of the submitting API key, recorded in the `queued` event (see MessageMeta.owner). */
  owner: string;
  /** Route name, absent for raw exchange publishes. */
  route: string | undefined;
  exchange: string;
  routingKey: string;
  content: Buffer;
  properties: Options.Publish;
  timeoutMs: number;
  /** Label for metrics: the route, or `exchange:<name>`. */
  metricsLabel: string;
  /** Publish the `queued` event without pacing (see JobEventSink.emit). */
  promptEvent: boolean;
}

/** Per-request message metadata. */
export interface MessageMeta {
  id: string;
  /** Name of the API key that submits the job: only it (and keys that read all) can read the job. */
  owner: string;
  traceparent: string;
  correlationId: string;
  /** The id comes from an Idempotency-Key: other replicas de-duplicate on it, so its `queued` event is not held back. */
  idempotent?: boolean;
}

/** Turns requests into confirmed publishes and records what happened. */
export interface JobSubmitter {
  /** Validates a route payload and builds its message; 400 with every failing field. */
  prepareRouteJob(route: CompiledRoute, payload: unknown, meta: MessageMeta, options?: PrepareOptions): PreparedJob;
  /** Builds a raw message for POST /v1/publish/{exchange}. */
  prepareExchangeMessage(input: ExchangeMessageInput, meta: MessageMeta): PreparedJob;
  /** Publishes and resolves after the broker's confirm; rejects with an ApiError (422, 503...). Emits the `queued` event without waiting for it. */
  publish(job: PreparedJob): Promise<void>;
}

/** Options of {@link JobSubmitter.prepareRouteJob}. */
export interface PrepareOptions {
  /** Prefix of the field paths in a 400 (e.g. `['jobs', 3]` in a batch). */
  pathPrefix?: readonly PropertyKey[];
  /**
   * The JSON text `payload` was parsed from (see readJsonBodyWithText). When
   * validation leaves the payload unchanged it is published as it is (UTF-8),
   * instead of serialising the payload again.
   */
  text?: string;
}

/** Body of POST /v1/publish/{exchange}, already validated. */
export interface ExchangeMessageInput {
  exchange: string;
  routingKey: string;
  headers: Record<string, string | number | boolean>;
  payload: unknown;
  priority: number | undefined;
  timeoutMs: number;
}

/** Collaborators of {@link createJobSubmitter}. */
export interface JobSubmitterDeps {
  publisher: PublisherLike;
  events: JobEventSink;
  index: JobStatusIndex;
  metrics: ApiMetrics;
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

function outcomeOf(err: ApiError): PublishOutcome {
  if (err.code === 'UNROUTABLE') return 'unroutable';
  if (err.code === 'PUBLISH_REJECTED') return 'rejected';
  if (err.code === 'PUBLISH_TIMEOUT') return 'timeout';
  return 'unavailable';
}

/** Creates the submitter. Everything per request is plain object building: schemas and templates were compiled at startup. */
export function createJobSubmitter(deps: JobSubmitterDeps): JobSubmitter {
  function message(meta: MessageMeta, headers: Record<string, unknown>, extra?: Options.Publish): Options.Publish {
    return {
      persistent: true,
      mandatory: true,
      messageId: meta.id,
      correlationId: meta.correlationId,
      // AMQP timestamps are seconds since the epoch.
      timestamp: Math.floor(Date.now() / 1000),
      contentType: 'application/json',
      appId: 'warren-api',
      headers,
      ...extra,
    };
  }

  return {
    prepareRouteJob(route, payload, meta, options = {}) {
      const pathPrefix = options.pathPrefix ?? [];
      const parsed = route.schema.safeParse(payload);
      if (!parsed.success) {
        deps.metrics.publish(route.name, 'invalid');
        throw new ApiError(400, 'VALIDATION_FAILED', `the job does not match the '${route.schemaName}' schema of route '${route.name}'`, {
          details: zodProblems(parsed.error, pathPrefix),
        });
      }
      const data: unknown = parsed.data;
      // Most jobs are unchanged by parsing: their request text is the message body, not serialised again.
      const text = options.text !== undefined && route.keepsRequestText && sameJsonValue(payload, data) ? options.text : undefined;
      let routingKey: string;
      try {
        routingKey = route.routingKey.render(data, route.defaults);
      } catch (err) {
        deps.metrics.publish(route.name, 'invalid');
        if (err instanceof ApiError && Array.isArray(err.details) && pathPrefix.length > 0) {
          const prefix = pathPrefix.map(String).join('.');
          throw new ApiError(err.status, err.code, err.message, {
            details: (err.details as { path: string; message: string }[]).map((d) => ({ ...d, path: `${prefix}.${d.path}` })),
          });
        }
        throw err;
      }
      return {
        id: meta.id,
        owner: meta.owner,
        route: route.name,
        exchange: route.exchange,
        routingKey,
        content: Buffer.from(text ?? JSON.stringify(data)),
        // Only what a first delivery can't tell by itself: the attempt is 1 and the origin is the delivery's
        // exchange and routing key until a worker republishes the job (retry, dead letter), which writes them.
        properties: message(meta, { [HEADERS.route]: route.name, [HEADERS.traceparent]: meta.traceparent }),
        timeoutMs: route.publishTimeoutMs,
        metricsLabel: route.name,
        promptEvent: meta.idempotent === true,
      };
    },

    prepareExchangeMessage(input, meta) {
      return {
        id: meta.id,
        owner: meta.owner,
        route: undefined,
        exchange: input.exchange,
        routingKey: input.routingKey,
        content: Buffer.from(JSON.stringify(input.payload)),
        properties: message(
          meta,
          { ...input.headers, [HEADERS.traceparent]: meta.traceparent },
          input.priority === undefined ? undefined : { priority: input.priority },
        ),
        timeoutMs: input.timeoutMs,
        metricsLabel: `exchange:${input.exchange}`,
        promptEvent: meta.idempotent === true,
      };
    },

    async publish(job) {
      const started = performance.now();
      try {
        await deps.publisher.publish({
          exchange: job.exchange,
          routingKey: job.routingKey,
          content: job.content,
          properties: job.properties,
          timeoutMs: job.timeoutMs,
        });
      } catch (err) {
        const apiError = toApiError(err, { ...(job.route === undefined ? {} : { route: job.route }), exchange: job.exchange, routingKey: job.routingKey });
        deps.metrics.publish(job.metricsLabel, outcomeOf(apiError));
        throw apiError;
      }
      deps.metrics.confirmLatency(job.metricsLabel, (performance.now() - started) / 1000);
      deps.metrics.publish(job.metricsLabel, 'accepted');
      const event: JobEvent = { jobId: job.id, status: 'queued', attempt: 1, at: nowIso(), source: 'api', owner: job.owner };
      if (job.route !== undefined) event.route = job.route;
      // This replica answers GET /v1/jobs/{id} at once; the others learn it from the stream.
      deps.index.apply(event);
      deps.events.emit(event, job.promptEvent);
    },
  };
}
