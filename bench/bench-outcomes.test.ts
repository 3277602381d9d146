import { describe, expect, it } from 'vitest';
import { apiVerdict, dlqVerdict, roundPassed, runBench, topologyVerdict, verdict, workerVerdict, type BenchOutcome } from './bench-outcomes.ts';
import type { DlqBenchResult } from './dlq-bench.ts';
import type { BenchFigure } from './figures.ts';
import type { TopologyBenchResult } from './topology-bench.ts';
import type { WorkerBenchResult } from './worker-bench.ts';

const fig = (pass: boolean, extra: Partial<BenchFigure> = {}): BenchFigure => ({ group: 'g', name: 'n', unit: 'u', value: 1, target: 't', pass, ...extra });

type Throughput = NonNullable<WorkerBenchResult['throughput']>;
function throughput(bullmqPerSec: number | null, bullmqNote?: string): Throughput {
  return {
    jobs: 10,
    prefetch: 2,
    warrenPerSec: 100,
    barePerSec: 110,
    bullmqPerSec,
    ...(bullmqNote === undefined ? {} : { bullmqNote }),
    warrenVsBarePct: 90,
    warrenVsBullmq: bullmqPerSec === null ? null : 100 / bullmqPerSec,
    runs: { warren: [100], bare: [110], bullmq: bullmqPerSec === null ? [] : [bullmqPerSec] },
    warmup: { warren: 1, bare: 1, bullmq: null },
    cpuUsPerJob: { warren: 1, bare: 1, runs: { warren: [1], bare: [1] } },
    brokerCpuUsPerJob: null,
  } as Throughput;
}

describe('bench verdicts', () => {
  it("keeps the API bench's own failure (errors in a round) when every figure met its target", () => {
    const v = apiVerdict({ figures: [fig(true), fig(true)], pass: false });
    expect(v.pass).toBe(false);
    expect(v.problems).toEqual(['errors or a queue-count mismatch in some round (the figures were measured anyway; see the log)']);
  });

  it('a passing bench with passing figures passes; a missed target fails without an extra problem', () => {
    expect(apiVerdict({ figures: [fig(true)], pass: true })).toEqual({ figures: [fig(true)], pass: true, problems: [] });
    expect(verdict([fig(true), fig(false)], false)).toMatchObject({ pass: false, problems: [] });
  });

  it('a run without Redis shows a "not measured" BullMQ row and fails, instead of dropping the row', () => {
    const v = workerVerdict({ figures: [fig(true)], pass: true, throughput: throughput(null, 'no Redis at 127.0.0.1:6379 (connect ECONNREFUSED)') });
    expect(v.pass).toBe(false);
    expect(v.problems).toEqual(['BullMQ not measured: no Redis at 127.0.0.1:6379 (connect ECONNREFUSED)']);
    const row = v.figures.at(-1);
    expect(row).toMatchObject({ group: 'worker', pass: false, name: 'instant handler vs BullMQ (not measured: no Redis at 127.0.0.1:6379 (connect ECONNREFUSED))' });
    expect(Number.isNaN(row?.value)).toBe(true);
  });

  it('a worker run with BullMQ measured, or without part (a), adds nothing', () => {
    expect(workerVerdict({ figures: [fig(true)], pass: true, throughput: throughput(5000) })).toMatchObject({ pass: true, problems: [] });
    expect(workerVerdict({ figures: [fig(true)], pass: true, throughput: null })).toMatchObject({ pass: true, problems: [] });
  });

  it('the topology verdict shows the empty-vhost plan that its pass flag covers', () => {
    const r: TopologyBenchResult = {
      bench: 'topology', queues: 500, bindings: 1000, policies: 0, planEmptyMs: 6000, applyFromScratchMs: 1, applyWrites: 1,
      planAppliedMs: 1, noopApplyMs: 1, planProcessMs: 1, targets: { planMs: 5000, noopApplyMs: 10000 }, pass: false,
    };
    const v = topologyVerdict(r);
    expect(v.pass).toBe(false);
    expect(v.figures.find((f) => f.name === 'plan, empty vhost')).toMatchObject({ value: 6000, pass: false });
    expect(v.problems).toEqual([]);
  });

  it('the DLQ verdict measures requeue against the shovel of the same run; the bare loop and a baseline are informational', () => {
    const rate = (perSecond: number, messages = 20_000) => ({ messages, seconds: messages / perSecond, perSecond });
    const r: DlqBenchResult = {
      name: 'dlq-requeue', messages: 20_000, rounds: 3, queueType: 'quorum', shovel: rate(12_000), warren: rate(5_000), bare: rate(300, 2_000),
      baseline: { ...rate(2_000), source: '/tmp/main' }, ratio: 0.42, target: 0.5, pass: false,
    };
    const v = dlqVerdict(r);
    expect(v.pass).toBe(false);
    expect(v.problems).toEqual([]);
    expect(v.figures[0]).toMatchObject({ value: 5_000, reference: 12_000, referenceKind: 'measured', referenceName: expect.stringMatching(/Move messages/), target: '>= 50% of reference', pass: false });
    expect(v.figures.slice(1).map((f) => [f.target, f.pass])).toEqual([['informational', true], ['informational', true]]);
    expect(dlqVerdict({ ...r, baseline: undefined, ratio: 0.6, pass: true })).toMatchObject({ pass: true, figures: [{ pass: true }, { target: 'informational' }] });
  });

  it('a bench that throws is a failed outcome naming the error, and fails the round', async () => {
    const ok = await runBench('a', async () => ({ figures: [fig(true)], pass: true, problems: [] }));
    const boom = await runBench('b', () => Promise.reject(new Error('broker unreachable')));
    expect(ok).toMatchObject({ name: 'a', pass: true });
    expect(boom).toMatchObject({ name: 'b', pass: false, figures: [], problems: ['failed: broker unreachable'] });
    expect(roundPassed([ok])).toBe(true);
    expect(roundPassed([ok, boom])).toBe(false);
    expect(roundPassed([] as BenchOutcome[])).toBe(false);
  });
});
