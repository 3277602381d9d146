import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LedgerReport } from './job-ledger.ts';

/** NDJSON file the scenarios of one run append to; the global teardown prints it as a table. */
export const REPORT_FILE = process.env.WARREN_CHAOS_REPORT ?? join(tmpdir(), 'warren-chaos-report.ndjson');

/** One recorded scenario. */
export interface ScenarioRecord {
  scenario: string;
  line: string;
  notes?: string;
  report: Omit<LedgerReport, 'lostIds' | 'duplicateIds'> & { lostIds: string[]; duplicateIds: string[] };
  at: string;
}

/** Appends a scenario's counts to the run's report file. */
export function recordScenario(scenario: string, report: LedgerReport, line: string, notes?: string): void {
  const record: ScenarioRecord = {
    scenario,
    line,
    ...(notes === undefined ? {} : { notes }),
    report: { ...report, lostIds: report.lostIds.slice(0, 20), duplicateIds: report.duplicateIds.slice(0, 20) },
    at: new Date().toISOString(),
  };
  appendFileSync(REPORT_FILE, `${JSON.stringify(record)}\n`);
}

/** Records of the current run. */
export function readRecords(): ScenarioRecord[] {
  if (!existsSync(REPORT_FILE)) return [];
  return readFileSync(REPORT_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ScenarioRecord);
}

/** Empties the report file (start of a run). */
export function resetRecords(): void {
  rmSync(REPORT_FILE, { force: true });
}

/** The run's table: `scenario | accepted | finished | duplicates | lost | notes`. */
export function formatRecords(records: readonly ScenarioRecord[]): string {
  if (records.length === 0) return '(no scenario recorded)';
  const rows = records.map((r) => [
    r.scenario,
    String(r.report.accepted),
    String(r.report.finished),
    String(r.report.duplicates),
    String(r.report.lost),
    r.line.includes('(') ? r.line.slice(r.line.indexOf('(') + 1, -1) : '',
  ]);
  const header = ['scenario', 'accepted', 'finished', 'duplicates', 'lost', 'details'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(fmt)].join('\n');
}
