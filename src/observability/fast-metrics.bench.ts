// Per-observation cost of the hot-path metrics: `npx vitest bench --run --project unit src/observability/fast-metrics.bench.ts`.
import { Counter, Histogram, Registry } from 'prom-client';
import { bench, describe } from 'vitest';
import { FastCounter, FastHistogram } from './fast-metrics.ts';

const names = ['consumer', 'route', 'outcome'] as const;
const labels = { consumer: 'summarize', route: 'llm.summarize', outcome: 'succeeded' };
const buckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const values = Float64Array.from({ length: 1024 }, (_, i) => (i % 97) / 10);
const registry = new Registry();
const fastCounter = new FastCounter('fast_total', 'f', names, registry).labels(labels);
const fastHistogram = new FastHistogram('fast_seconds', 'f', names, buckets, registry).labels(labels);
const promCounter = new Counter({ name: 'prom_total', help: 'p', labelNames: names, registers: [registry] }).labels(labels);
const promHistogram = new Histogram({ name: 'prom_seconds', help: 'p', labelNames: names, buckets, registers: [registry] }).labels(labels);
let i = 0;

describe('counter child, 1,000 increments', () => {
  bench('FastCounter', () => {
    for (let n = 0; n < 1000; n++) fastCounter.inc();
  });
  bench('prom-client Counter', () => {
    for (let n = 0; n < 1000; n++) promCounter.inc();
  });
});

describe('histogram child, 1,000 observations', () => {
  bench('FastHistogram', () => {
    for (let n = 0; n < 1000; n++) fastHistogram.observe(values[i++ & 1023] as number);
  });
  bench('prom-client Histogram', () => {
    for (let n = 0; n < 1000; n++) promHistogram.observe(values[i++ & 1023] as number);
  });
});

bench('scrape of this registry', async () => {
  await registry.metrics();
});
