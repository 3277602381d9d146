/**
 * `npm run bench`: runs every benchmark of the project one after the other (never in
 * parallel: they would measure each other) and writes bench/REPORT.md with each
 * figure beside its reference from the same run, plus bench/report-chart.svg.
 *
 *   npm run bench                      # everything
 *   npm run bench -- --only api,worker # some
 *   npm run bench -- --quick           # smaller runs, for a smoke check
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFigure } from './figures.ts';
import { renderChart, renderReport } from './report.ts';

interface BenchModule {
  name: string;
  /** Runs the benchmark and returns its figures. */
  run(quick: boolean): Promise<BenchFigure[]>;
}

const BENCHES: BenchModule[] = [
  {
    name: 'topology',
    async run() {
      const { run } = await import('./topology-bench.ts');
      const r = await run();
      return [
        { group: 'topology', name: `plan, ${r.queues} queues + ${r.bindings} bindings applied`, unit: 'ms', value: r.planAppliedMs, target: `< ${r.targets.planMs} ms`, pass: r.planAppliedMs < r.targets.planMs, higherIsBetter: false },
        { group: 'topology', name: 'plan as a new CLI process', unit: 'ms', value: r.planProcessMs, target: `< ${r.targets.planMs} ms`, pass: r.planProcessMs < r.targets.planMs, higherIsBetter: false },
        { group: 'topology', name: 'no-op apply', unit: 'ms', value: r.noopApplyMs, target: `< ${r.targets.noopApplyMs} ms`, pass: r.noopApplyMs < r.targets.noopApplyMs, higherIsBetter: false },
        { group: 'topology', name: `apply from scratch (${r.applyWrites} writes)`, unit: 'ms', value: r.applyFromScratchMs, target: 'informational', pass: true, higherIsBetter: false },
      ];
    },
  },
  {
    name: 'api',
    async run(quick) {
      const { run } = await import('./api-bench.ts');
      return (await run({ quick })).figures;
    },
  },
  {
    name: 'worker',
    async run(quick) {
      const { run } = await import('./worker-bench.ts');
      return (await run({ quick })).figures;
    },
  },
  {
    name: 'status',
    async run(quick) {
      const { run } = await import('./status-bench.ts');
      return (await run({ quick })).figures;
    },
  },
  {
    name: 'dlq',
    async run(quick) {
      const { run } = await import('./dlq-bench.ts');
      const r = await run(quick ? { messages: 2_000 } : {});
      return [
        {
          group: 'dlq',
          name: `requeue of ${r.messages.toLocaleString('en-US')} dead letters (${r.queueType})`,
          unit: 'msg/s',
          value: r.warren.perSecond,
          reference: r.bare.perSecond,
          referenceName: 'bare amqplib get / publish-confirm / ack',
          target: `>= ${Math.round(r.target * 100)}% of reference`,
          pass: r.pass,
        },
      ];
    },
  },
];

function parseArgs(argv: readonly string[]): { only: Set<string> | undefined; quick: boolean } {
  const i = argv.indexOf('--only');
  const only = i >= 0 && argv[i + 1] ? new Set(argv[i + 1]?.split(',').map((s) => s.trim())) : undefined;
  return { only, quick: argv.includes('--quick') };
}

async function main(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const figures: BenchFigure[] = [];
  const notes: string[] = [];
  for (const bench of BENCHES) {
    if (only && !only.has(bench.name)) continue;
    process.stderr.write(`\n=== bench: ${bench.name} ===\n`);
    const t0 = Date.now();
    try {
      const got = await bench.run(quick);
      figures.push(...got);
      notes.push(`${bench.name}: ${Math.round((Date.now() - t0) / 1000)} s`);
    } catch (err) {
      notes.push(`${bench.name} FAILED: ${(err as Error).message}`);
      process.stderr.write(`bench ${bench.name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  if (quick) notes.push('run with --quick: smaller runs, figures are indicative only');
  const here = dirname(fileURLToPath(import.meta.url));
  writeFileSync(join(here, 'REPORT.md'), renderReport(figures, { startedAt, durationMs: Date.now() - startedAt.getTime(), notes }));
  writeFileSync(join(here, 'report-chart.svg'), renderChart(figures));
  process.stdout.write(renderReport(figures, { startedAt, durationMs: Date.now() - startedAt.getTime(), notes }));
  process.exitCode = figures.every((f) => f.pass) && !notes.some((n) => n.includes('FAILED')) ? 0 : 1;
}

await main();
