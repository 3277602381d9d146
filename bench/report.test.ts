import { describe, expect, it } from 'vitest';
import type { BenchOutcome } from './bench-outcomes.ts';
import { historyOf, renderChart, renderReport, withHistory } from './report.ts';

const meta = { startedAt: new Date('2026-01-01T00:00:00Z'), durationMs: 60_000, notes: [] };

const measured = { group: 'dlq', name: 'requeue', unit: 'msg/s', value: 900, reference: 1000, referenceName: 'bare amqplib', target: '>= 50% of reference', pass: true };
const constant = { group: 'worker', name: 'RSS', unit: 'MB', value: 160, reference: 250, referenceName: 'limit', referenceKind: 'constant' as const, target: '< 250 MB', pass: true };

describe('benchmark report', () => {
  it('labels each reference as measured in this run or as a constant, and never claims every reference was measured', () => {
    const report = renderReport([{ name: 'x', figures: [measured, constant], pass: true, problems: [], durationMs: 1000 }], meta);
    expect(report).toContain('| 1,000 (bare amqplib; measured in this run) |');
    expect(report).toContain('| 250 (limit; constant, not measured) |');
    expect(report).not.toMatch(/every reference was measured/i);
    expect(report).toContain('**Result: PASS** (x).');
  });

  it('says FAIL at the top and names the failed bench and its problem, also when every figure met its target', () => {
    const outcomes: BenchOutcome[] = [
      { name: 'api', figures: [measured], pass: false, problems: ['errors in some round'], durationMs: 61_000 },
      { name: 'dlq', figures: [measured], pass: true, problems: [], durationMs: 52_000 },
    ];
    const report = renderReport(outcomes, meta);
    expect(report).toContain('**Result: FAIL**: api.');
    expect(report).toContain('| api | **FAIL** | 61 s | errors in some round |');
    expect(report).toContain('| dlq | pass | 52 s | — |');
  });

  it('shows a figure that could not be measured as "not measured", failed', () => {
    const report = renderReport([{ name: 'worker', figures: [{ group: 'worker', name: 'vs BullMQ', unit: 'jobs/s', value: Number.NaN, target: '>= 2x reference', pass: false }], pass: false, problems: ['BullMQ not measured: no Redis'], durationMs: 0 }], meta);
    expect(report).toContain('| worker | vs BullMQ (jobs/s) | not measured | — | — | >= 2x reference | **no** |');
  });

  it('draws constant references differently from measured ones, and leaves unmeasured figures out of the chart', () => {
    const svg = renderChart([measured, constant, { ...measured, name: 'unmeasured', value: Number.NaN }]);
    expect(svg).toContain('250 (constant)');
    expect(svg).toContain('stroke-dasharray');
    expect(svg).not.toContain('unmeasured');
    expect(svg).not.toContain('same-run reference');
  });

  it('carries the previous report\'s History section over to the new report, and nothing else of it', () => {
    const previous = '# warren benchmark report\n\n| old | figure |\n\n## Notes\n\n- old note\n\n## History\n\n### 2026-11-30\n\nold figures\n';
    const history = historyOf(previous);
    expect(history).toBe('## History\n\n### 2026-11-30\n\nold figures');
    const next = withHistory(renderReport([{ name: 'x', figures: [measured], pass: true, problems: [], durationMs: 1000 }], meta), history);
    expect(next).toContain('| 1,000 (bare amqplib; measured in this run) |');
    expect(next.endsWith('## History\n\n### 2026-11-30\n\nold figures\n')).toBe(true);
    expect(next).not.toContain('old note');
    expect(historyOf('# report\n\n### History of nothing\n')).toBe('');
    expect(withHistory('# report\n', '')).toBe('# report\n');
  });
});
