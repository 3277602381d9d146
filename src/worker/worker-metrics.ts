import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from '../observability/fast-metrics.ts';

/** Outcome label of `warren_jobs_total`. */
export type JobOutcome = 'succeeded' | 'retried' | 'dead-lettered' | 'forwarded' | 'failed' | 'requeued' | 'dropped' | 'blocked';

/** The worker's Prometheus metrics, on a registry of its own (no global state). */
export interface WorkerMetrics {
  registry: Registry;
  /** Per-job metrics: hot-path counters (see fast-metrics.ts). */
  jobs: FastCounter<'consumer' | 'route' | 'outcome'>;
  handlerDuration: FastHistogram<'consumer' | 'route' | 'outcome'>;
  llmLatency: Histogram<'provider' | 'model' | 'status'>;
  llmTokens: Counter<'provider' | 'model' | 'kind'>;
  retries: Counter<'consumer' | 'reason'>;
  deadLetters: Counter<'consumer' | 'reason'>;
  inFlight: Gauge<'consumer'>;
  held: Gauge<'consumer'>;
  rateLimitWaits: Counter<'consumer' | 'key'>;
  rateLimitWaitSeconds: Counter<'consumer' | 'key'>;
  publishFailures: Counter<'kind'>;
  redeliveries: Counter<'consumer'>;
  /**
   * Registers where a consumer's gauges are read from. The in-flight and
   * held gauges are computed when /metrics is scraped, not updated per job.
   */
  observeConsumer(consumer: string, read: () => { running: number; buffered: number }): void;
  /** Registers where the front-door reply counts are read from (the worker's reply sender), read when /metrics is scraped. */
  observeReplies(read: () => ReplyCounts): void;
}

/** What the worker's reply sender counted since start (src/worker/reply-sender.ts). */
export interface ReplyCounts {
  /** Replies (stream chunks, final answers) published. */
  sent: number;
  /** Replies dropped (no channel, back-pressure, not a reply queue). */
  dropped: number;
  /** AMQP messages that carried the sent replies (one per lone reply or batch). */
  messages: number;
}

/** A counter that follows a running total read at scrape time. */
function totalCounter(name: string, help: string, registers: Registry[], read: () => number | undefined): Counter {
  let last = 0;
  return new Counter({
    name,
    help,
    registers,
    collect() {
      const now = read();
      if (now !== undefined && now > last) {
        this.inc(now - last);
        last = now;
      }
    },
  });
}

/** Creates the metrics; `defaults` adds process metrics (RSS, event-loop lag, GC). */
export function createWorkerMetrics(options: { defaults?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'warren_worker_' });
  const registers = [registry];
  const consumers = new Map<string, () => { running: number; buffered: number }>();
  let replies: (() => ReplyCounts) | undefined;
  totalCounter('warren_front_door_replies_sent_total', 'Front-door replies (stream chunks, final answers) a worker sent to API replicas', registers, () => replies?.().sent);
  totalCounter('warren_front_door_replies_dropped_total', 'Front-door replies dropped (reply channel away or full); the result still arrives through the job events', registers, () => replies?.().dropped);
  totalCounter('warren_front_door_reply_messages_total', 'AMQP messages that carried the sent replies (several replies to one API replica in one event-loop turn go as one)', registers, () => replies?.().messages);
  return {
    observeConsumer(consumer, read) {
      consumers.set(consumer, read);
    },
    observeReplies(read) {
      replies = read;
    },
    registry,
    jobs: new FastCounter('warren_jobs_total', 'Jobs finished by consumer, route and outcome', ['consumer', 'route', 'outcome'], registry),
    handlerDuration: new FastHistogram(
      'warren_job_handler_duration_seconds',
      'Time a handler ran, by outcome',
      ['consumer', 'route', 'outcome'],
      [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registry,
    ),
    llmLatency: new Histogram({
      name: 'warren_llm_request_duration_seconds',
      help: 'LLM call latency by provider, model and HTTP status (0: no answer)',
      labelNames: ['provider', 'model', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers,
    }),
    llmTokens: new Counter({ name: 'warren_llm_tokens_total', help: 'LLM tokens by provider, model and kind (prompt, completion)', labelNames: ['provider', 'model', 'kind'], registers }),
    retries: new Counter({ name: 'warren_job_retries_total', help: 'Retries scheduled, by error class', labelNames: ['consumer', 'reason'], registers }),
    deadLetters: new Counter({ name: 'warren_dead_letters_total', help: 'Jobs dead-lettered by warren, by reason', labelNames: ['consumer', 'reason'], registers }),
    inFlight: new Gauge({
      name: 'warren_jobs_in_flight',
      help: 'Handlers running now',
      labelNames: ['consumer'],
      registers,
      collect() {
        for (const [consumer, read] of consumers) this.set({ consumer }, read().running);
      },
    }),
    held: new Gauge({
      name: 'warren_deliveries_held',
      help: 'Deliveries received and waiting for a slot or the rate limit',
      labelNames: ['consumer'],
      registers,
      collect() {
        for (const [consumer, read] of consumers) this.set({ consumer }, read().buffered);
      },
    }),
    rateLimitWaits: new Counter({ name: 'warren_rate_limit_waits_total', help: 'Times a consumer paused for an rpm/tpm budget or a 429', labelNames: ['consumer', 'key'], registers }),
    rateLimitWaitSeconds: new Counter({ name: 'warren_rate_limit_wait_seconds_total', help: 'Time consumers spent paused for rate limits', labelNames: ['consumer', 'key'], registers }),
    publishFailures: new Counter({ name: 'warren_worker_publish_failures_total', help: 'Publishes (retry, dead-letter, result, event) the broker did not confirm', labelNames: ['kind'], registers }),
    redeliveries: new Counter({ name: 'warren_redeliveries_total', help: 'Deliveries flagged redelivered by the broker (crash, lost channel, shutdown)', labelNames: ['consumer'], registers }),
  };
}
