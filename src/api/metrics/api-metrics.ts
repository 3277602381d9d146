import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from '../../observability/fast-metrics.ts';

/** Outcome of one publish attempt, as counted in `warren_api_publishes_total`. */
export type PublishOutcome = 'accepted' | 'rejected' | 'unroutable' | 'timeout' | 'unavailable' | 'invalid' | 'duplicate' | 'over-budget';

/** The API's Prometheus metrics, on a registry of their own. */
export interface ApiMetrics {
  readonly registry: Registry;
  /** Counts one publish by route (or `exchange:<name>`) and outcome. */
  publish(route: string, outcome: PublishOutcome): void;
  /** Records the time from publish to the broker's confirm. */
  confirmLatency(route: string, seconds: number): void;
  /** Records one HTTP request by path template, warren route, method and status. */
  http(path: string, route: string, method: string, status: number, seconds: number): void;
  /** Gauges of the status index. */
  setIndex(jobs: number, caughtUp: boolean): void;
  /** Counts one job-events message the status tail skipped for its signature (`unsigned`, `unknown-key`, `bad-signature`). */
  eventRejected(reason: string): void;
}

/** Options of {@link createApiMetrics}. */
export interface ApiMetricsOptions {
  /** Also collect Node process metrics (CPU, memory, event loop lag). @default true */
  processMetrics?: boolean;
  /** Prefix of every metric name. @default warren_api_ */
  prefix?: string;
}

/**
 * Creates the metrics on a new registry. Labelled children are cached by their
 * label values so the hot path does one Map lookup and bumps plain numbers,
 * instead of prom-client's label validation and hashing per observation.
 */
export function createApiMetrics(options: ApiMetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  const p = options.prefix ?? 'warren_api_';
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: p });

  // The per-request metrics are fast-metrics children (plain objects bumped in place); prom-client formats them on scrape.
  const publishes = new FastCounter(`${p}publishes_total`, 'Publishes by route and outcome (accepted = confirmed by the broker).', ['route', 'outcome'], registry);
  const confirm = new FastHistogram(
    `${p}confirm_latency_seconds`,
    'Time from publish to the broker confirm, by route.',
    ['route'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry,
  );
  const http = new FastHistogram(
    `${p}http_request_duration_seconds`,
    'HTTP request latency by path template, warren route, method and status.',
    ['path', 'route', 'method', 'status'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  );
  const indexJobs = new Gauge({ name: `${p}status_index_jobs`, help: 'Jobs held in the in-memory status index.', registers: [registry] });
  const indexCaughtUp = new Gauge({
    name: `${p}status_index_caught_up`,
    help: '1 once the status index has replayed the job-events stream up to boot time.',
    registers: [registry],
  });

  const rejectedEvents = new Counter({
    name: `${p}job_events_rejected_total`,
    help: 'Job-events stream messages the status index skipped because warren did not sign them, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });

  const publishChildren = new Map<string, { inc(): void }>();
  const confirmChildren = new Map<string, { observe(v: number): void }>();
  const httpChildren = new Map<string, { observe(v: number): void }>();

  return {
    registry,
    publish(route, outcome) {
      const key = `${route}\u0000${outcome}`;
      let child = publishChildren.get(key);
      if (!child) publishChildren.set(key, (child = publishes.labels({ route, outcome })));
      child.inc();
    },
    confirmLatency(route, seconds) {
      let child = confirmChildren.get(route);
      if (!child) confirmChildren.set(route, (child = confirm.labels({ route })));
      child.observe(seconds);
    },
    http(path, route, method, status, seconds) {
      const key = `${path}\u0000${route}\u0000${method}\u0000${status}`;
      let child = httpChildren.get(key);
      if (!child) httpChildren.set(key, (child = http.labels({ path, route, method, status: String(status) })));
      child.observe(seconds);
    },
    eventRejected(reason) {
      rejectedEvents.inc({ reason });
    },
    setIndex(jobs, caughtUp) {
      indexJobs.set(jobs);
      indexCaughtUp.set(caughtUp ? 1 : 0);
    },
  };
}
