import type { Registry } from 'prom-client';

/**
 * A counter and a histogram for the per-job hot path. prom-client validates
 * and hashes the label set on every `inc` / `observe`, even through a child
 * from `labels()`; at tens of thousands of jobs per second that was the
 * largest metrics cost. Here a child is a plain object bumped in place, and
 * the Prometheus text is built from it only when /metrics is scraped (through
 * the same registry, so the output format is prom-client's).
 */

type Labels<T extends string> = Record<T, string>;

/** What `get()` returns: the shape prom-client's registry formats, and tests read. */
export interface FastMetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

interface Registrable {
  name: string;
  help: string;
  type: string;
  aggregator: 'sum';
  collect?: () => void;
  reset(): void;
}

function register(registry: Registry, metric: Registrable): void {
  (registry as unknown as { registerMetric(m: unknown): void }).registerMetric(metric);
}

/** A labelled counter whose children are plain objects. */
export class FastCounter<T extends string> implements Registrable {
  readonly type = 'counter';
  readonly aggregator = 'sum' as const;
  readonly #children = new Map<string, { labels: Labels<T>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly T[],
    registry: Registry,
  ) {
    register(registry, this);
  }

  /** The child for one label set; keep it and call `inc` on it. */
  labels(labels: Labels<T>): { inc(n?: number): void } {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let child = this.#children.get(key);
    if (!child) {
      child = { labels: { ...labels }, value: 0 };
      this.#children.set(key, child);
    }
    const c = child;
    return {
      inc(n = 1) {
        c.value += n;
      },
    };
  }

  /** Increments the child of `labels` (looks it up: for cold paths). */
  inc(labels: Labels<T>, n = 1): void {
    this.labels(labels).inc(n);
  }

  reset(): void {
    for (const c of this.#children.values()) c.value = 0;
  }

  async get(): Promise<FastMetricSnapshot> {
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      aggregator: 'sum',
      values: [...this.#children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value })),
    };
  }
}

/** A labelled histogram whose children are plain bucket arrays. */
export class FastHistogram<T extends string> implements Registrable {
  readonly type = 'histogram';
  readonly aggregator = 'sum' as const;
  readonly #children = new Map<string, { labels: Labels<T>; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly T[],
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    register(registry, this);
  }

  labels(labels: Labels<T>): { observe(value: number): void } {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let child = this.#children.get(key);
    if (!child) {
      child = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#children.set(key, child);
    }
    const c = child;
    const bounds = this.buckets;
    return {
      observe(value: number) {
        if (!Number.isFinite(value)) return;
        c.sum += value;
        c.count++;
        for (let i = 0; i < bounds.length; i++) {
          if (value <= (bounds[i] as number)) {
            (c.counts[i] as number)++;
            break;
          }
        }
      },
    };
  }

  observe(labels: Labels<T>, value: number): void {
    this.labels(labels).observe(value);
  }

  reset(): void {
    for (const c of this.#children.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }

  async get(): Promise<FastMetricSnapshot> {
    const values: FastMetricSnapshot['values'] = [];
    for (const c of this.#children.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += c.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...c.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...c.labels }, value: c.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...c.labels }, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...c.labels }, value: c.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
