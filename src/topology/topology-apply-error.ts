import { WarrenError } from '../errors/index.ts';

/** What a failed apply had done when it stopped; each entry is a step description such as `create queue 'llm.realtime'`. */
export interface ApplyFailureReport {
  done: string[];
  failed: { step: string; error: string }[];
  notAttempted: string[];
}

const LIST_LIMIT = 10;

function list(items: string[]): string {
  const shown = items.slice(0, LIST_LIMIT).map((s) => `    ${s}`);
  if (items.length > LIST_LIMIT) shown.push(`    ... and ${items.length - LIST_LIMIT} more (see --json)`);
  return shown.join('\n');
}

/**
 * A write failed part-way through apply. The message states exactly which
 * steps already happened, which failed and which were not attempted.
 */
export class TopologyApplyError extends WarrenError {
  override readonly name = 'TopologyApplyError';
  readonly report: ApplyFailureReport;

  constructor(vhost: string, report: ApplyFailureReport, cause: unknown) {
    const lines = [
      `topology apply to vhost '${vhost}' stopped: ${report.failed.length} step${report.failed.length === 1 ? '' : 's'} failed, ${report.done.length} done, ${report.notAttempted.length} not attempted.`,
      `  failed:`,
      ...report.failed.map((f) => `    ${f.step}: ${f.error}`),
    ];
    if (report.done.length > 0) lines.push(`  already done (these changes are on the broker now):`, list(report.done));
    if (report.notAttempted.length > 0) lines.push(`  not attempted:`, list(report.notAttempted));
    lines.push(`Fix the cause and run apply again: it plans from what the broker now holds and does only what is left.`);
    super('TOPOLOGY_APPLY_FAILED', lines.join('\n'), { cause, details: report });
    this.report = report;
  }
}
