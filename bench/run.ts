/**
 * `npm run bench`: runs every benchmark of the project one after the other (never in
 * parallel: they would measure each other) and writes bench/REPORT.md with each
 * figure beside its reference (measured in the same run, or a labelled constant),
 * the round's verdict, plus bench/report-chart.svg. The report's hand-kept History section
 * (figures of earlier runs) is carried over. Exits 1 when any bench failed:
 * a missed target, its own failure flag, a figure it could not measure (BullMQ
 * without Redis), or an exception.
 *
 *   npm run bench                      # everything
 *   npm run bench -- --only api,worker # some
 *   npm run bench -- --quick           # smaller runs, for a smoke check
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiVerdict, dlqVerdict, verdict, roundPassed, runBench, topologyVerdict, workerVerdict, type BenchOutcome, type BenchVerdict } from './bench-outcomes.ts';
import { historyOf, renderChart, renderReport, withHistory } from './report.ts';

interface BenchModule {
  name: string;
  /** Runs the benchmark and returns its figures and verdict. */
  run(quick: boolean): Promise<BenchVerdict>;
}

const BENCHES: BenchModule[] = [
  {
    name: 'topology',
    async run() {
      const { run } = await import('./topology-bench.ts');
      return topologyVerdict(await run());
    },
  },
  {
    name: 'api',
    async run(quick) {
      const { run } = await import('./api-bench.ts');
      return apiVerdict(await run({ quick }));
    },
  },
  {
    name: 'worker',
    async run(quick) {
      const { run } = await import('./worker-bench.ts');
      return workerVerdict(await run({ quick }));
    },
  },
  {
    name: 'status',
    async run(quick) {
      const { run } = await import('./status-bench.ts');
      const r = await run({ quick });
      return verdict(r.figures, r.pass);
    },
  },
  {
    name: 'tracing',
    async run(quick) {
      const { run } = await import('./tracing-bench.ts');
      const r = await run({ quick });
      return verdict(r.figures, r.pass);
    },
  },
  {
    name: 'dlq',
    async run(quick) {
      const { run } = await import('./dlq-bench.ts');
      return dlqVerdict(await run(quick ? { messages: 2_000, rounds: 1 } : {}));
    },
  },
  {
    name: 'ordered',
    async run(quick) {
      const { run } = await import('./ordered-bench.ts');
      const r = await run({ quick });
      return verdict(r.figures, r.pass);
    },
  },
  {
    name: 'console',
    async run(quick) {
      const { run } = await import('./console-bench.ts');
      const r = await run({ quick });
      return verdict(r.figures, r.pass);
    },
  },
  {
    name: 'front-door',
    async run(quick) {
      const { run } = await import('./front-door-bench.ts');
      const r = await run({ quick });
      return verdict(r.figures, r.pass);
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
  const unknown = [...(only ?? [])].filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const startedAt = new Date();
  const outcomes: BenchOutcome[] = [];
  const notes: string[] = [];
  for (const bench of BENCHES) {
    if (only && !only.has(bench.name)) continue;
    process.stderr.write(`\n=== bench: ${bench.name} ===\n`);
    const outcome = await runBench(bench.name, () => bench.run(quick));
    outcomes.push(outcome);
    if (!outcome.pass) process.stderr.write(`bench ${bench.name} FAILED${outcome.problems.length > 0 ? `: ${outcome.problems.join('; ')}` : ' (a figure missed its target)'}\n`);
  }
  if (quick) notes.push('run with --quick: smaller runs, figures are indicative only');
  const here = dirname(fileURLToPath(import.meta.url));
  const report = renderReport(outcomes, { startedAt, durationMs: Date.now() - startedAt.getTime(), notes });
  const reportFile = join(here, 'REPORT.md');
  const history = existsSync(reportFile) ? historyOf(readFileSync(reportFile, 'utf8')) : '';
  writeFileSync(reportFile, withHistory(report, history));
  writeFileSync(join(here, 'report-chart.svg'), renderChart(outcomes.flatMap((o) => o.figures)));
  process.stdout.write(report);
  process.exitCode = roundPassed(outcomes) ? 0 : 1;
}

await main();
