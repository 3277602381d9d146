import type { ManagementClient } from '../broker/management-client.ts';
import type { Topology } from '../config/topology-schema.ts';
import { readActualState } from './actual-state.ts';
import { applyPlan, type ApplyResult } from './apply-plan.ts';
import { desiredState } from './desired-state.ts';
import { planTopology } from './plan-topology.ts';
import type { TopologyPlan } from './plan-step.ts';

/** The slice of a logger ensureTopology writes to (pino's `info(obj, msg)` fits). */
export interface TopologyLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** What {@link ensureTopology} found and did. */
export interface EnsureTopologyResult {
  plan: TopologyPlan;
  applied: ApplyResult;
}

/**
 * Makes the broker hold what the topology describes, for the API and workers
 * at boot: plan, refuse with a TopologyDriftError (code TOPOLOGY_DRIFT) when
 * something can't change in place, otherwise apply the rest. Never prunes.
 */
export async function ensureTopology(topology: Topology, management: ManagementClient, logger?: TopologyLogger): Promise<EnsureTopologyResult> {
  const desired = desiredState(topology);
  const actual = await readActualState(management, desired.vhost);
  const plan = planTopology(desired, actual);
  for (const w of plan.warnings) logger?.warn({ vhost: plan.vhost, object: w.object, name: w.name }, w.message);
  const applied = await applyPlan(management, plan);
  if (applied.writes > 0) logger?.info({ vhost: plan.vhost, writes: applied.writes, durationMs: applied.durationMs }, `topology applied: ${applied.writes} change(s) made on the broker`);
  if (applied.kept.length > 0) {
    logger?.info(
      { vhost: plan.vhost, extra: applied.kept.map((s) => `${s.object} ${s.name}`) },
      `${applied.kept.length} warren object(s) on the broker are no longer in the topology; 'warren topology apply --prune' removes them`,
    );
  }
  return { plan, applied };
}
