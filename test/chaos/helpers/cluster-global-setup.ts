import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './scenario-topology.ts';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'cluster.sh');

/**
 * Vitest global setup of the cluster scenarios: starts the local 3-node cluster
 * (scripts/cluster.sh, idempotent) and stops it afterwards, unless
 * WARREN_CLUSTER_KEEP=1 (then it is left running for the next run).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const started = await run('bash', [SCRIPT, 'start'], { timeout: 300_000, maxBuffer: 10_000_000 });
  console.log(started.stdout);
  return async () => {
    if (process.env.WARREN_CLUSTER_KEEP === '1') return;
    await run('bash', [SCRIPT, 'stop'], { timeout: 120_000 });
  };
}
