import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from './fast-metrics.ts';

describe('fast metrics', () => {
  it('render exactly like prom-client counters and histograms', async () => {
    const fastReg = new Registry();
    const promReg = new Registry();
    const fc = new FastCounter('jobs_total', 'jobs', ['consumer', 'outcome'], fastReg);
    const pc = new Counter({ name: 'jobs_total', help: 'jobs', labelNames: ['consumer', 'outcome'], registers: [promReg] });
    const fh = new FastHistogram('dur_seconds', 'duration', ['consumer'], [0.1, 1], fastReg);
    const ph = new Histogram({ name: 'dur_seconds', help: 'duration', labelNames: ['consumer'], buckets: [0.1, 1], registers: [promReg] });
    const child = fc.labels({ consumer: 'a', outcome: 'ok' });
    child.inc();
    child.inc(2);
    pc.inc({ consumer: 'a', outcome: 'ok' }, 3);
    fc.inc({ consumer: 'b', outcome: 'failed' });
    pc.inc({ consumer: 'b', outcome: 'failed' });
    for (const v of [0.05, 0.5, 5, 0.1]) {
      fh.labels({ consumer: 'a' }).observe(v);
      ph.observe({ consumer: 'a' }, v);
    }
    expect(await fastReg.metrics()).toBe(await promReg.metrics());
    expect((await fc.get()).values).toEqual([
      { labels: { consumer: 'a', outcome: 'ok' }, value: 3 },
      { labels: { consumer: 'b', outcome: 'failed' }, value: 1 },
    ]);
  });

  it('registers real prom-client metrics, nothing else', () => {
    const reg = new Registry();
    new FastCounter('c_total', 'c', ['k'], reg);
    new FastHistogram('h_seconds', 'h', ['k'], [1], reg);
    expect(reg.getSingleMetric('c_total')).toBeInstanceOf(Counter);
    expect(reg.getSingleMetric('h_seconds')).toBeInstanceOf(Histogram);
  });

  it('repeated scrapes show the same counts, and later increments are added once', async () => {
    const reg = new Registry();
    const fc = new FastCounter('c_total', 'c', ['k'], reg);
    const child = fc.labels({ k: 'x' });
    child.inc(2);
    const first = await reg.metrics();
    expect(first).toContain('c_total{k="x"} 2\n');
    expect(await reg.metrics()).toBe(first);
    child.inc();
    expect(await reg.metrics()).toContain('c_total{k="x"} 3\n');
  });

  it('shows a child from labels() on, at zero, and labels() again keeps its counts', async () => {
    const reg = new Registry();
    const fc = new FastCounter('c_total', 'c', ['k'], reg);
    const fh = new FastHistogram('h_seconds', 'h', ['k'], [1], reg);
    fc.labels({ k: 'idle' });
    fh.labels({ k: 'idle' });
    let text = await reg.metrics();
    expect(text).toContain('c_total{k="idle"} 0\n');
    expect(text).toContain('h_seconds_count{k="idle"} 0\n');
    fh.labels({ k: 'busy' }).observe(0.5);
    fh.labels({ k: 'busy' }).observe(2);
    text = await reg.metrics();
    expect(text).toContain('h_seconds_bucket{le="1",k="busy"} 1\n');
    expect(text).toContain('h_seconds_count{k="busy"} 2\n');
    expect(text).toContain('h_seconds_sum{k="busy"} 2.5\n');
  });

  it('ignores a non-finite observation instead of throwing', async () => {
    const reg = new Registry();
    const fh = new FastHistogram('h_seconds', 'h', ['k'], [1], reg);
    const child = fh.labels({ k: 'x' });
    expect(() => child.observe(Number.NaN)).not.toThrow();
    expect(() => fh.observe({ k: 'x' }, Number.POSITIVE_INFINITY)).not.toThrow();
    expect(await reg.metrics()).toContain('h_seconds_count{k="x"} 0\n');
  });

  it('reset() sets every child back to zero and keeps it shown', async () => {
    const reg = new Registry();
    const fc = new FastCounter('c_total', 'c', ['k'], reg);
    const fh = new FastHistogram('h_seconds', 'h', ['k'], [1], reg);
    fc.inc({ k: 'x' }, 4);
    fh.labels({ k: 'x' }).observe(0.5);
    fc.reset();
    fh.reset();
    const text = await reg.metrics();
    expect(text).toContain('c_total{k="x"} 0\n');
    expect(text).toContain('h_seconds_count{k="x"} 0\n');
  });
});
