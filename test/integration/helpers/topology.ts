import { resolve } from 'node:path';
import { seg, type ManagementClient } from '../../../src/broker/management-client.ts';
import { loadTopology, parseTopology } from '../../../src/config/load-topology.ts';
import type { Topology } from '../../../src/config/topology-schema.ts';
import { applyPlan, desiredState, planTopology, readActualState, type ApplyOptions, type ApplyResult, type TopologyPlan } from '../../../src/topology/index.ts';
import type { TestVhost } from './test-vhost.ts';

/** The repository's shipped topology.yaml. */
export const SHIPPED_TOPOLOGY = resolve(import.meta.dirname, '../../../topology.yaml');

/** Points a loaded topology at the test's own vhost, AMQP URL and management API. */
export function inVhost(topology: Topology, vh: TestVhost): Topology {
  return { ...topology, connection: { ...topology.connection, vhost: vh.vhost, urls: [vh.amqpUrl], management: vh.managementUrl } };
}

/** The shipped topology.yaml, loaded without handler checks (handlers are the workers' business), in the test vhost. */
export function shippedTopology(vh: TestVhost): Topology {
  return inVhost(loadTopology(SHIPPED_TOPOLOGY, { checkHandlers: false, env: {} }).topology, vh);
}

/** A topology from YAML text (`version: 1` is prepended), in the test vhost. */
export function yamlTopology(yaml: string, vh: TestVhost): Topology {
  return inVhost(parseTopology(`version: 1\n${yaml}`, 'test-topology.yaml', { checkHandlers: false, env: {} }).topology, vh);
}

/** Reads the broker and plans the topology against it. */
export async function planOn(topology: Topology, management: ManagementClient): Promise<TopologyPlan> {
  const desired = desiredState(topology);
  return planTopology(desired, await readActualState(management, desired.vhost));
}

/** Plans then applies. */
export async function applyOn(topology: Topology, management: ManagementClient, options: ApplyOptions = {}): Promise<ApplyResult> {
  return applyPlan(management, await planOn(topology, management), options);
}

/** The management API's full view of one queue (arguments, effective policy, message counts). */
export interface QueueView {
  name: string;
  type: string;
  arguments: Record<string, unknown>;
  policy?: string | null;
  effective_policy_definition?: Record<string, unknown> | unknown[];
  messages?: number;
}

/** GET /api/queues/{vhost}/{name}. */
export function queueView(vh: TestVhost, name: string): Promise<QueueView> {
  return vh.management.get<QueueView>(`/queues/${seg(vh.vhost)}/${seg(name)}`);
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
