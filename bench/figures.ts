/**
 * The common shape every benchmark reports, so `npm run bench` can put each
 * figure beside its reference from the same run in bench/REPORT.md.
 */
export interface BenchFigure {
  /** Benchmark group, e.g. `api`, `worker`, `dlq`, `topology`. */
  group: string;
  /** What was measured, e.g. `single-job publish throughput`. */
  name: string;
  unit: string;
  /** warren's figure; NaN when it could not be measured (the report says so, and the figure fails). */
  value: number;
  /** The same-run reference figure, when the benchmark has one. */
  reference?: number;
  /** What the reference is, e.g. `bare Hono + amqplib confirm publish`. */
  referenceName?: string;
  /**
   * `measured`: the reference ran in the same run, on the same broker and machine. `constant`: a fixed
   * target (a computed bound, a budget, a limit), not a measurement. The report labels each. @default 'measured'
   */
  referenceKind?: 'measured' | 'constant';
  /** The target in words, e.g. `>= 85% of reference`. */
  target: string;
  /** Whether the target was met. */
  pass: boolean;
  /** Whether higher is better (throughput) or lower (latency, memory). @default true */
  higherIsBetter?: boolean;
}

/** Ratio of value to reference in percent, rounded. */
export function percentOf(value: number, reference: number): number {
  return reference === 0 ? 0 : Math.round((value / reference) * 1000) / 10;
}
