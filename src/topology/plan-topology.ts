import type { ActualBinding, ActualState } from './actual-state.ts';
import { argumentChanges, definitionChanges, stableStringify, type FieldChange } from './compare.ts';
import { LEGACY_STREAM_RETENTION_ARGS, MANAGED_ARG, POLICY_PREFIX, policyName, type DesiredBinding, type DesiredState } from './desired-state.ts';
import { exchangeDriftMessage, queueDriftMessage } from './drift-message.ts';
import { partitionChanges } from './partition-change.ts';
import { bindingLabel, type CannotChangeStep, type CreateStep, type ExtraStep, type PlanWarning, type TopologyPlan, type UpdateStep } from './plan-step.ts';

/** Options of {@link planTopology}. */
export interface PlanOptions {
  /** How messages name the topology file. @default topology.yaml */
  file?: string;
}

const IGNORED_EXCHANGE_ARGS = new Set([MANAGED_ARG]);
// The queue type is compared as `type`; the marker can't be added to an existing queue, so it doesn't count as drift.
const IGNORED_QUEUE_ARGS = new Set([MANAGED_ARG, 'x-queue-type']);

function isManaged(args: Record<string, unknown>): boolean {
  return args[MANAGED_ARG] === true;
}

function isBuiltinExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/**
 * Identity of a binding: source, destination, destination type, routing key and
 * arguments (key order and the warren marker ignored, so a binding someone
 * else created counts as present rather than being doubled).
 */
export function bindingKey(b: Pick<DesiredBinding | ActualBinding, 'source' | 'destination' | 'destinationType' | 'routingKey' | 'arguments'>): string {
  const args = Object.fromEntries(Object.entries(b.arguments).filter(([k]) => k !== MANAGED_ARG));
  return stableStringify([b.source, b.destinationType, b.destination, b.routingKey, args]);
}

function flagChanges(pairs: [string, unknown, unknown][]): FieldChange[] {
  return pairs.filter(([, a, d]) => a !== d).map(([field, actual, desired]) => ({ field, actual, desired }));
}

/** Compiles a broker policy pattern for a JS match; RabbitMQ uses PCRE, which agrees on the patterns people write. */
function compilePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}

/**
 * Compares desired with actual state and returns the steps that would make
 * the broker match the file. Pure: no I/O, same input gives the same plan.
 */
export function planTopology(desired: DesiredState, actual: ActualState, options: PlanOptions = {}): TopologyPlan {
  const file = options.file ?? 'topology.yaml';
  const vhost = desired.vhost;
  const creates: CreateStep[] = [];
  const policySteps: (CreateStep | UpdateStep)[] = [];
  const blocked: CannotChangeStep[] = [];
  const extras: ExtraStep[] = [];
  const warnings: PlanWarning[] = [];

  if (!actual.vhostExists) creates.push({ kind: 'create', object: 'vhost', name: vhost });

  const actualExchanges = new Map(actual.exchanges.map((e) => [e.name, e]));
  for (const ex of desired.exchanges) {
    const a = actualExchanges.get(ex.name);
    if (!a) {
      creates.push({ kind: 'create', object: 'exchange', name: ex.name, exchange: ex });
      continue;
    }
    const changes = [
      ...flagChanges([
        ['type', a.type, ex.type],
        ['durable', a.durable, ex.durable],
        ['autoDelete', a.autoDelete, ex.autoDelete],
        ['internal', a.internal, ex.internal],
      ]),
      ...argumentChanges(a.arguments, ex.arguments, IGNORED_EXCHANGE_ARGS),
    ];
    if (changes.length > 0) blocked.push({ kind: 'cannot-change', object: 'exchange', name: ex.name, changes, message: exchangeDriftMessage(changes, { name: ex.name, vhost, file }) });
  }

  const actualQueues = new Map(actual.queues.map((q) => [q.name, q]));
  for (const q of desired.queues) {
    const a = actualQueues.get(q.name);
    if (!a) {
      creates.push({ kind: 'create', object: 'queue', name: q.name, queue: q });
      continue;
    }
    const changes = [
      ...flagChanges([
        ['type', a.type, q.type],
        ['durable', a.durable, q.durable],
        ['autoDelete', a.autoDelete, q.autoDelete],
      ]),
      // warren's own streams declared by an older version: their retention arguments stay (the policy applies too, and the API warns).
      ...argumentChanges(a.arguments, q.arguments, q.role === 'job-events' || q.role === 'job-history' ? new Set([...IGNORED_QUEUE_ARGS, ...LEGACY_STREAM_RETENTION_ARGS]) : IGNORED_QUEUE_ARGS),
    ];
    if (changes.length > 0) {
      blocked.push({ kind: 'cannot-change', object: 'queue', name: q.name, changes, message: queueDriftMessage(changes, { name: q.name, vhost, role: q.role, file }) });
    }
  }

  blocked.push(...partitionChanges(desired, actual, file));

  const actualBindingKeys = new Set(actual.bindings.map(bindingKey));
  const desiredBindingKeys = new Set<string>();
  for (const b of desired.bindings) {
    const key = bindingKey(b);
    if (desiredBindingKeys.has(key)) continue;
    desiredBindingKeys.add(key);
    if (!actualBindingKeys.has(key)) creates.push({ kind: 'create', object: 'binding', name: bindingLabel(b, MANAGED_ARG), binding: b });
  }

  const actualPolicies = new Map(actual.policies.map((p) => [p.name, p]));
  const desiredPolicyNames = new Set(desired.policies.map((p) => p.name));
  for (const p of desired.policies) {
    const a = actualPolicies.get(p.name);
    if (!a) {
      policySteps.push({ kind: 'create', object: 'policy', name: p.name, policy: p });
      continue;
    }
    const changes = [
      ...flagChanges([
        ['pattern', a.pattern, p.pattern],
        ['apply-to', a.applyTo, p.applyTo],
        ['priority', a.priority, p.priority],
      ]),
      ...definitionChanges(a.definition, p.definition),
    ];
    const queue = desired.queues.find((q) => policyName(q.name) === p.name)?.name ?? p.name.slice(POLICY_PREFIX.length);
    if (changes.length > 0) policySteps.push({ kind: 'update', object: 'policy', name: p.name, queue, changes, policy: p });
  }
  // A queue still in the file whose settings were all removed: its old policy would keep applying them.
  const queuePolicyNames = new Map(desired.queues.map((q) => [policyName(q.name), q.name]));
  for (const [name, queue] of queuePolicyNames) {
    const a = actualPolicies.get(name);
    if (a && !desiredPolicyNames.has(name)) {
      const changes = Object.entries(a.definition).map(([field, value]) => ({ field, actual: value, desired: undefined }));
      policySteps.push({ kind: 'update', object: 'policy', name, queue, changes, policy: null });
    }
  }

  const desiredExchangeNames = new Set(desired.exchanges.map((e) => e.name));
  const desiredQueueNames = new Set(desired.queues.map((q) => q.name));
  for (const b of actual.bindings) {
    if (isManaged(b.arguments) && !desiredBindingKeys.has(bindingKey(b))) extras.push({ kind: 'extra', object: 'binding', name: bindingLabel(b, MANAGED_ARG), binding: b });
  }
  for (const p of actual.policies) {
    if (p.name.startsWith(POLICY_PREFIX) && !desiredPolicyNames.has(p.name) && !queuePolicyNames.has(p.name)) extras.push({ kind: 'extra', object: 'policy', name: p.name, policy: p });
  }
  for (const q of actual.queues) {
    if (isManaged(q.arguments) && !desiredQueueNames.has(q.name)) extras.push({ kind: 'extra', object: 'queue', name: q.name, queue: q });
  }
  for (const e of actual.exchanges) {
    if (!isBuiltinExchange(e.name) && isManaged(e.arguments) && !desiredExchangeNames.has(e.name)) extras.push({ kind: 'extra', object: 'exchange', name: e.name, exchange: e });
  }

  // Only one policy applies to a queue: an operator policy of equal or higher priority silently wins over warren's.
  const operatorPolicies = actual.policies
    .filter((p) => !p.name.startsWith(POLICY_PREFIX) && (p.applyTo === 'queues' || p.applyTo === 'all'))
    .map((p) => ({ policy: p, re: compilePattern(p.pattern) }));
  for (const p of desired.policies) {
    const queue = queuePolicyNames.get(p.name);
    if (queue === undefined) continue;
    for (const { policy, re } of operatorPolicies) {
      if (re?.test(queue) && policy.priority >= p.priority) {
        warnings.push({
          object: 'policy',
          name: p.name,
          message: `policy '${policy.name}' (priority ${policy.priority}) also matches queue '${queue}' and outranks warren's '${p.name}' (priority ${p.priority}); RabbitMQ applies only one policy per queue, so the settings in ${file} won't take effect. Lower its priority below ${p.priority} or narrow its pattern.`,
        });
      }
    }
  }

  // Listed in apply order (see apply-plan.ts): vhost and exchanges, policies, queues, bindings.
  const early = creates.filter((s) => s.object === 'vhost' || s.object === 'exchange');
  const late = creates.filter((s) => s.object === 'queue' || s.object === 'binding');
  return { vhost, steps: [...early, ...policySteps, ...late, ...blocked, ...extras], warnings };
}
