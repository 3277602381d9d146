import { formatRecords, readRecords, REPORT_FILE, resetRecords } from './scenario-report.ts';

/** Vitest global setup of the failure suite: a fresh report file, and the table of all scenarios at the end. */
export default function setup(): () => void {
  resetRecords();
  return () => {
    const records = readRecords();
    console.log(`\n[chaos] accepted / finished / duplicates / lost per scenario (${REPORT_FILE}):\n${formatRecords(records)}\n`);
  };
}
