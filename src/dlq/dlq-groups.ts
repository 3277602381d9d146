import type { DeadLetterInfo } from './dead-letter-info.ts';
import { groupIdOf, groupKeyOf, NO_VALUE } from './message-filter.ts';

/**
 * One failure group: the dead letters that died in the same origin queue, for
 * the same reason, with the same error class (NServiceBus/ServicePulse's
 * "failure groups"). Its three fields used as filters (`origin`, `reason`,
 * `errorClass`, with {@link NO_VALUE} for an absent one) select exactly its
 * messages (so does its `id` as the `group` filter), so a group's requeue, purge or export is one filtered run.
 */
export interface DlqGroup {
  /** The group's id: the `group` filter that selects exactly its messages (`warren dlq requeue <queue> --group <id>`). */
  id: string;
  /** Origin queue, or `(none)` when unknown. */
  origin: string;
  reason: string;
  /** x-warren-error-class, or `(none)`. */
  errorClass: string;
  count: number;
  /** Routes among the group's messages, with counts. */
  routes: Record<string, number>;
  /** Messages whose origin is unknown (a requeue to origin leaves them in place). */
  unknownOrigin: number;
  /** Messages already requeued `maxRequeues` times (a requeue skips them). */
  overCap: number;
  /** ISO times of the oldest and newest death in the group. */
  oldest: string | undefined;
  newest: string | undefined;
  /** A sample error message (the newest one seen). */
  sampleError: string | undefined;
}

/** Result of grouping a dead-letter queue. */
export interface DlqGroups {
  queue: string;
  /** Ready messages when the read started. */
  total: number;
  scanned: number;
  matched: number;
  truncated: boolean;
  /** Largest group first. */
  groups: DlqGroup[];
}

interface Acc {
  group: DlqGroup;
  oldest: number;
  newest: number;
}

/** The builder's map key of a message's group (origin, reason, error class). */
export function groupMapKey(info: Pick<DeadLetterInfo, 'origin' | 'reason' | 'errorClass'>): string {
  const key = groupKeyOf(info);
  return `${key.origin}\0${key.reason}\0${key.errorClass}`;
}

/** Accumulates {@link DlqGroup}s, one map lookup per message. */
export function createGroupBuilder(maxRequeues: number) {
  const groups = new Map<string, Acc>();
  return {
    /** Adds one message; `k`, when given, is its group's key as {@link groupMapKey} makes it (callers that know it skip the concatenation). */
    add(info: DeadLetterInfo, k: string = groupMapKey(info)): void {
      let acc = groups.get(k);
      if (acc === undefined) {
        const key = groupKeyOf(info);
        acc = { group: { id: groupIdOf(key), ...key, count: 0, routes: {}, unknownOrigin: 0, overCap: 0, oldest: undefined, newest: undefined, sampleError: undefined }, oldest: Infinity, newest: -Infinity };
        groups.set(k, acc);
      }
      const g = acc.group;
      g.count++;
      const route = info.route ?? NO_VALUE;
      g.routes[route] = (g.routes[route] ?? 0) + 1;
      if (!info.origin) g.unknownOrigin++;
      if (info.requeued >= maxRequeues) g.overCap++;
      if (info.failedAt !== undefined) {
        acc.oldest = Math.min(acc.oldest, info.failedAt);
        if (info.failedAt >= acc.newest) {
          acc.newest = info.failedAt;
          if (info.errorMessage !== undefined) g.sampleError = info.errorMessage.slice(0, 300);
        }
      } else if (g.sampleError === undefined && info.errorMessage !== undefined) {
        g.sampleError = info.errorMessage.slice(0, 300);
      }
    },
    result(): DlqGroup[] {
      return [...groups.values()]
        .map(({ group, oldest, newest }) => ({
          ...group,
          oldest: Number.isFinite(oldest) ? new Date(oldest).toISOString() : undefined,
          newest: Number.isFinite(newest) ? new Date(newest).toISOString() : undefined,
        }))
        .sort((a, b) => b.count - a.count || a.origin.localeCompare(b.origin) || a.reason.localeCompare(b.reason) || a.errorClass.localeCompare(b.errorClass));
    },
  };
}
