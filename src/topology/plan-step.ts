import type { ActualBinding, ActualExchange, ActualPolicy, ActualQueue } from './actual-state.ts';
import type { FieldChange } from './compare.ts';
import type { DesiredBinding, DesiredExchange, DesiredPolicy, DesiredQueue } from './desired-state.ts';

/**
 * The steps a plan is made of. `create` and `update` are applied by
 * `apply`; `cannot-change` blocks apply; `extra` is deleted only by a prune.
 */

export type { FieldChange } from './compare.ts';

/** The kind of object a step touches. */
export type PlanObject = 'vhost' | 'exchange' | 'queue' | 'binding' | 'policy';

export type CreateStep =
  | { kind: 'create'; object: 'vhost'; name: string }
  | { kind: 'create'; object: 'exchange'; name: string; exchange: DesiredExchange }
  | { kind: 'create'; object: 'queue'; name: string; queue: DesiredQueue }
  | { kind: 'create'; object: 'binding'; name: string; binding: DesiredBinding }
  | { kind: 'create'; object: 'policy'; name: string; policy: DesiredPolicy };

/**
 * An in-place change of a warren policy: its definition (DLX, TTL, max-length...)
 * changed, or (`policy: null`) the queue no longer sets anything, so the policy goes.
 */
export interface UpdateStep {
  kind: 'update';
  object: 'policy';
  name: string;
  /** The queue the policy belongs to. */
  queue: string;
  changes: FieldChange[];
  policy: DesiredPolicy | null;
}

/** A difference RabbitMQ can't apply to an existing object; `message` says what to do about it. */
export interface CannotChangeStep {
  kind: 'cannot-change';
  object: 'exchange' | 'queue';
  name: string;
  changes: FieldChange[];
  message: string;
}

/** An object warren created (it carries the marker, or a warren policy name) that the file no longer lists. */
export type ExtraStep =
  | { kind: 'extra'; object: 'exchange'; name: string; exchange: ActualExchange }
  | { kind: 'extra'; object: 'queue'; name: string; queue: ActualQueue }
  | { kind: 'extra'; object: 'binding'; name: string; binding: ActualBinding }
  | { kind: 'extra'; object: 'policy'; name: string; policy: ActualPolicy };

export type PlanStep = CreateStep | UpdateStep | CannotChangeStep | ExtraStep;

/** Something the user should know that is not a step (e.g. an operator policy that outranks warren's). */
export interface PlanWarning {
  object: PlanObject;
  name: string;
  message: string;
}

/** The result of comparing desired and actual state. */
export interface TopologyPlan {
  vhost: string;
  /** In apply order: vhost, exchanges, policies, queues, bindings; then cannot-change and extra. */
  steps: PlanStep[];
  warnings: PlanWarning[];
}

/** Counts per kind, for summaries and `--json`. */
export interface PlanSummary {
  create: number;
  update: number;
  cannotChange: number;
  extra: number;
}

/** Counts the plan's steps per kind. */
export function summarizePlan(plan: TopologyPlan): PlanSummary {
  const s: PlanSummary = { create: 0, update: 0, cannotChange: 0, extra: 0 };
  for (const step of plan.steps) {
    if (step.kind === 'create') s.create++;
    else if (step.kind === 'update') s.update++;
    else if (step.kind === 'cannot-change') s.cannotChange++;
    else s.extra++;
  }
  return s;
}

/** A human name for a binding: `source -> queue dest [key] {args}` (marker left out). */
export function bindingLabel(b: { source: string; destination: string; destinationType: string; routingKey: string; arguments: Record<string, unknown> }, managedArg = 'x-warren-managed'): string {
  // x-match first, then the rest sorted: the same binding reads the same whether it came from the file or the broker.
  const args = Object.entries(b.arguments)
    .filter(([k]) => k !== managedArg)
    .sort(([a], [c]) => (a === 'x-match' ? -1 : c === 'x-match' ? 1 : a < c ? -1 : a > c ? 1 : 0));
  const argText = args.length === 0 ? '' : ` {${args.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
  const source = b.source === '' ? '(default)' : b.source;
  return `${source} -> ${b.destinationType} ${b.destination}${b.routingKey === '' ? '' : ` [${b.routingKey}]`}${argText}`;
}
