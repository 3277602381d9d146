import type { Tracer } from '@opentelemetry/api';
import { contextFromTraceparent, endSpan, SpanKind, startChildSpan, traceparentOf } from '../../observability/tracing.ts';

/** The API's two spans of one submitted job: the HTTP accept and, inside it, the publish until the broker's confirm. */
export interface PublishTrace {
  /** The `traceparent` to put on the message: the publish span, parent of the worker's consume spans. */
  readonly traceparent: string;
  /** Ends both spans (with an error status when `err` is given). */
  end(err?: unknown): void;
}

/**
 * Starts the accept span (a child of the caller's `traceparent` when it sent
 * one) and the publish span inside it. Only called when tracing is on.
 */
export function startPublishTrace(tracer: Tracer, incoming: string | undefined, route: string, jobId: string): PublishTrace {
  const accept = tracer.startSpan(
    'POST /v1/jobs/{route}',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/jobs/:route', 'warren.route': route, 'warren.job_id': jobId } },
    contextFromTraceparent(incoming),
  );
  const publish = startChildSpan(tracer, `publish ${route}`, SpanKind.PRODUCER, accept, {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': 'publish',
    'messaging.message.id': jobId,
    'warren.route': route,
  });
  return {
    traceparent: traceparentOf(publish),
    end(err) {
      endSpan(publish, err);
      endSpan(accept, err);
    },
  };
}
