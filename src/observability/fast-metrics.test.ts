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
});
