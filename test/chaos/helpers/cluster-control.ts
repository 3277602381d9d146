import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createManagementClient, seg } from '../../../src/broker/management-client.ts';
import { REPO_ROOT } from './scenario-topology.ts';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'cluster.sh');

/** Management URLs of the local cluster's nodes (scripts/cluster.sh default ports). */
export const CLUSTER_MANAGEMENT_URLS = [1, 2, 3].map((n) => `http://guest:guest@127.0.0.1:${15680 + n}`);

/** Node N's name as scripts/cluster.sh names it. */
export function clusterNodeName(n: number): string {
  return `warren-${n}@localhost`;
}

/** Runs `scripts/cluster.sh <args>`; resolves with its output. */
export async function clusterScript(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { timeout: 300_000, maxBuffer: 10_000_000 });
  return stdout + stderr;
}

/** A quorum queue's replica view: members, online members and leader (asked from any node that answers). */
export async function quorumQueueInfo(vhost: string, queue: string): Promise<{ leader: string; members: string[]; online: string[] }> {
  let lastError: unknown;
  for (const url of CLUSTER_MANAGEMENT_URLS) {
    try {
      const q = await createManagementClient({ url, timeoutMs: 10_000 }).get<{ leader?: string; members?: string[]; online?: string[] }>(`/queues/${seg(vhost)}/${seg(queue)}`);
      return { leader: q.leader ?? '', members: q.members ?? [], online: q.online ?? [] };
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`no cluster node answered for queue ${queue}: ${(lastError as Error).message}`);
}

/** Number (1..3) of the node named `name`. */
export function clusterNodeNumber(name: string): number {
  const m = /^warren-(\d)@/.exec(name);
  if (!m?.[1]) throw new Error(`not a local cluster node: ${name}`);
  return Number(m[1]);
}
