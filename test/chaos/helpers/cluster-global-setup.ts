import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './scenario-topology.ts';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'cluster.sh');

const stop = () => run('bash', [SCRIPT, 'stop'], { timeout: 180_000, maxBuffer: 10_000_000 });

/**
 * Vitest global setup of the cluster scenarios: starts a fresh local 3-node cluster
 * (scripts/cluster.sh: its own nodes, ports and data, beside the broker on 5672) and
 * stops it afterwards, also when it failed to come up. With WARREN_CLUSTER_KEEP=1 a
 * running cluster is reused and left running for the next run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const keep = process.env.WARREN_CLUSTER_KEEP === '1';
  // Leftovers of an earlier run that died (nodes, data) would make this run depend on it.
  if (!keep) await stop();
  try {
    const started = await run('bash', [SCRIPT, 'start'], { timeout: 300_000, maxBuffer: 10_000_000 });
    console.log(started.stdout);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    if (!keep) await stop().catch(() => undefined);
    throw new Error(`scripts/cluster.sh start failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  return async () => {
    if (keep) return;
    await stop();
  };
}
