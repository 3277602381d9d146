import { z } from 'zod';
import { seg, type ManagementClient } from '../../broker/management-client.ts';
import type { Topology } from '../../config/topology-schema.ts';
import { desiredState } from '../../topology/desired-state.ts';
import { summarizePlan, type PlanSummary } from '../../topology/plan-step.ts';
import { planTopology } from '../../topology/plan-topology.ts';
import { readActualState } from '../../topology/actual-state.ts';

/** One queue of the vhost as the overview shows it (management API figures). */
export interface QueueStat {
  name: string;
  type: string;
  messages: number;
  ready: number;
  unacked: number;
  consumers: number;
  /** Messages per second over the management API's last sample. */
  publishRate: number;
  deliverRate: number;
  ackRate: number;
}

/** Whether the broker matches topology.yaml: the `plan` summary. */
export interface DriftSummary extends PlanSummary {
  /** One line per step that is not "in sync" (at most 20). */
  lines: string[];
  warnings: string[];
}

/** What the console reads from the broker besides the JSON API: queue figures and drift. Read-only. */
export interface ConsoleBroker {
  /** The whole topology (the topology page). */
  readonly topology: Topology;
  /** Queues of the vhost with depth, consumers and rates. */
  queues(): Promise<QueueStat[]>;
  /** `warren topology plan` in short. */
  drift(): Promise<DriftSummary>;
}

const rate = z.object({ rate: z.number() }).partial().optional();
const queueRow = z
  .object({
    name: z.string(),
    type: z.string().optional(),
    messages: z.number().optional(),
    messages_ready: z.number().optional(),
    messages_unacknowledged: z.number().optional(),
    consumers: z.number().optional(),
    message_stats: z.object({ publish_details: rate, deliver_get_details: rate, ack_details: rate }).partial().optional(),
  })
  .loose();

const COLUMNS = ['name', 'type', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers', 'message_stats.publish_details.rate', 'message_stats.deliver_get_details.rate', 'message_stats.ack_details.rate'].join(',');

/** Reads queue figures and drift through the management API (nothing is written). */
export function createConsoleBroker(deps: { management: ManagementClient; topology: Topology }): ConsoleBroker {
  const vhost = deps.topology.connection.vhost;
  return {
    topology: deps.topology,
    async queues() {
      const rows = z.array(queueRow).parse(await deps.management.get(`/queues/${seg(vhost)}?columns=${COLUMNS}`));
      return rows
        .map((q) => ({
          name: q.name,
          type: q.type ?? 'classic',
          messages: q.messages ?? 0,
          ready: q.messages_ready ?? 0,
          unacked: q.messages_unacknowledged ?? 0,
          consumers: q.consumers ?? 0,
          publishRate: q.message_stats?.publish_details?.rate ?? 0,
          deliverRate: q.message_stats?.deliver_get_details?.rate ?? 0,
          ackRate: q.message_stats?.ack_details?.rate ?? 0,
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async drift() {
      const desired = desiredState(deps.topology);
      const plan = planTopology(desired, await readActualState(deps.management, desired.vhost));
      const lines = plan.steps.slice(0, 20).map((s) => `${s.kind} ${s.object} ${s.name}${s.kind === 'cannot-change' ? `: ${s.message}` : ''}`);
      return { ...summarizePlan(plan), lines, warnings: plan.warnings.map((w) => `${w.object} ${w.name}: ${w.message}`) };
    },
  };
}
