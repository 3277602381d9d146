import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry tracing of warren's job path: accept -> publish (API), consume
 * -> LLM call -> settle (worker), one trace linked through the `traceparent`
 * header warren already carries. Off unless OTEL_EXPORTER_OTLP_ENDPOINT is
 * set: then no tracer exists, the SDK is never loaded, and every hook is a
 * single `undefined` check.
 */
export interface Tracing {
  /** The tracer the API and workers get; undefined when tracing is off. */
  readonly tracer: Tracer | undefined;
  /** Exports what is buffered and stops (part of graceful shutdown). */
  shutdown(): Promise<void>;
}

/** Options of {@link createTracing}. */
export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); spans go to `<endpoint>/v1/traces`. */
  endpoint?: string | undefined;
  /** `service.name` of the spans. @default 'warren' */
  serviceName?: string;
  /** Export here instead, span by span (tests: the SDK's InMemorySpanExporter). */
  exporter?: SpanExporter;
}

/** Tracing off: no tracer, nothing to flush. */
export const TRACING_OFF: Tracing = { tracer: undefined, shutdown: async () => undefined };

/** Creates the tracer provider when an endpoint (or a test exporter) is given; else {@link TRACING_OFF}. */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  if (options.exporter === undefined && (options.endpoint === undefined || options.endpoint === '')) return TRACING_OFF;
  // Loaded only when tracing is on: a process without an endpoint never pays for the SDK.
  const [{ BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  let processor;
  if (options.exporter !== undefined) {
    processor = new SimpleSpanProcessor(options.exporter);
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    // A job makes 3-5 spans: a queue of 16k holds a few seconds of a busy worker while an export is in flight
    // (the SDK's 2,048 drops spans at a few hundred jobs/s); bounded all the same, the SDK drops beyond it.
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${(options.endpoint as string).replace(/\/$/, '')}/v1/traces` }), {
      maxQueueSize: 16_384,
      maxExportBatchSize: 1_024,
      scheduledDelayMillis: 1_000,
    });
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'warren' }),
    spanProcessors: [processor],
  });
  return { tracer: provider.getTracer('warren'), shutdown: () => provider.shutdown() };
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context a W3C `traceparent` names (a remote parent), or the root context when absent or invalid. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const m = traceparent === undefined ? null : TRACEPARENT_RE.exec(traceparent.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1] as string, spanId: m[2] as string, traceFlags: parseInt(m[3] as string, 16), isRemote: true });
}

/** The W3C `traceparent` that makes `span` the parent of what the message's consumer records. */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Starts a span as a child of `parent` (a context or a span). */
export function startChildSpan(tracer: Tracer, name: string, kind: SpanKind, parent: Context | Span, attributes: Attributes = {}): Span {
  const ctx = 'spanContext' in parent ? trace.setSpan(ROOT_CONTEXT, parent) : parent;
  return tracer.startSpan(name, { kind, attributes }, ctx);
}

/** Ends a span with an error status when `err` is given. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

export { SpanKind };
