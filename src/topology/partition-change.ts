import type { ActualState } from './actual-state.ts';
import { MANAGED_ARG, type DesiredState } from './desired-state.ts';
import type { CannotChangeStep } from './plan-step.ts';

/**
 * Ordered queues whose partition count on the broker differs from the file.
 * Consistent hashing moves keys between partitions when the count changes, so
 * jobs already queued for a key would run beside (not after) the key's new
 * ones: re-partitioning is a migration the operator runs, never a silent
 * apply. Each such queue becomes a `cannot-change` step (it blocks apply)
 * whose message says how to migrate.
 */
export function partitionChanges(desired: DesiredState, actual: ActualState, file: string): CannotChangeStep[] {
  const wanted = new Map<string, Set<string>>();
  for (const q of desired.queues) {
    if (q.role !== 'ordered-partition' || q.orderedQueue === undefined) continue;
    let set = wanted.get(q.orderedQueue);
    if (!set) wanted.set(q.orderedQueue, (set = new Set()));
    set.add(q.name);
  }
  const steps: CannotChangeStep[] = [];
  for (const [queue, names] of wanted) {
    const pattern = new RegExp(`^${queue.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.p(\\d+)$`);
    const existing = actual.queues.filter((q) => q.arguments[MANAGED_ARG] === true && pattern.test(q.name)).map((q) => q.name);
    if (existing.length === 0) continue;
    const same = existing.length === names.size && existing.every((n) => names.has(n));
    if (same) continue;
    const waiting = actual.queues.filter((q) => existing.includes(q.name)).reduce((n, q) => n + (q.messages ?? 0), 0);
    steps.push({
      kind: 'cannot-change',
      object: 'queue',
      name: queue,
      changes: [{ field: 'ordering.partitions', actual: existing.length, desired: names.size }],
      message:
        `ordered queue '${queue}' has ${existing.length} partitions on the broker and ${names.size} in ${file}. Re-partitioning moves keys to other partitions, ` +
        `so jobs already queued (${waiting} now) could run beside their key's newer jobs instead of before them. Migrate: stop publishing to the routes that feed '${queue}', ` +
        `let the workers empty ${existing.sort().join(', ')} (and requeue or purge its blocked keys: warren dlq list), delete those queues ` +
        `(warren topology prune after removing 'ordering', or rabbitmqctl delete_queue), then apply again and resume publishing.`,
    });
  }
  return steps;
}
