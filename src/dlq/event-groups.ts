import type { MessageProperties } from 'amqplib';
import type { Topology } from '../config/topology-schema.ts';
import { HEADERS } from '../jobs/headers.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import { deadLetterProperties } from '../jobs/message-properties.ts';
import { resolveDeadLetter, type DeadLetterInfo } from './dead-letter-info.ts';
import { createGroupBuilder, groupMapKey, type DlqGroup } from './dlq-groups.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { isEmptyFilter, matchesFilter, type DlqFilter } from './message-filter.ts';
import { createOriginPolicy } from './origin-policy.ts';

/**
 * A job the job events say is dead-lettered now: its newest `dead-lettered`
 * (or `blocked`) event with a `deadLetter` part, not followed by another
 * event of the job (`requeued`, or running again).
 */
export interface DeadLetterRecord {
  event: JobEvent;
}

/** The records an API replica holds (src/api/status/dead-letter-store.ts), and whether it holds all of them yet. */
export interface DeadLetterRecords {
  /** False while the store is restoring (boot) or catching up: its records are not the whole story. */
  ready(): boolean;
  /** Resolves true once ready, false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  records(): Iterable<DeadLetterRecord>;
  /** Changes so far: a count is reused while it has not moved. */
  version(): number;
}

/** Where one record's dead letter lies: its queue and what the DLQ tooling would read from it there. */
export interface PlacedDeadLetter {
  queue: string;
  info: DeadLetterInfo;
  /** Its failure group's key in the group builder (groupMapKey), the same for every job of a shape: made once. */
  group: string;
}

/**
 * Places dead-letter events in the topology: which dead-letter queue(s) the
 * worker's publish reached (the origin queue's `deadLetter` exchange and
 * routing key, or the job's own key when none is fixed, through the
 * topology's bindings) and the failure group there. The group comes from the
 * same code that reads a real dead letter (resolveDeadLetter over the headers
 * deadLetterProperties writes), so its id is the one `warren dlq requeue
 * --group` selects. Nothing is taken from the event alone: a queue the
 * topology doesn't have, or that has no dead-letter target, places nowhere.
 */
export function createDeadLetterPlacer(topology: Topology) {
  const dt = createDlqTopology(topology);
  const origins = createOriginPolicy(dt);
  // Events are immutable once stored: placed once each. The topology part of a placement (queues, origin,
  // group) depends on a few fields only: resolved once per distinct combination, then copied per job.
  const placed = new WeakMap<JobEvent, PlacedDeadLetter[]>();
  const shapes = new Map<string, PlacedDeadLetter[]>();

  function resolve(e: JobEvent, dl: NonNullable<JobEvent['deadLetter']>, queue: string): PlacedDeadLetter[] {
    const target = topology.queues[queue]?.deadLetter;
    if (target === undefined) return [];
    const source: Record<string, unknown> = { [HEADERS.requeued]: dl.requeued };
    if (e.route !== undefined) source[HEADERS.route] = e.route;
    const props = deadLetterProperties({ headers: source, messageId: e.jobId } as unknown as MessageProperties, {
      errorClass: e.error?.class ?? 'unknown',
      errorMessage: e.error?.message ?? '',
      reason: dl.reason,
      attempts: e.attempt,
      origin: { exchange: dl.originExchange, routingKey: dl.originRoutingKey },
      queue,
      failedAt: new Date(dl.failedAt),
    });
    const headers = props.headers as Record<string, unknown>;
    const queues = dt.routeQueues(target.exchange, target.routingKey ?? dl.originRoutingKey, headers);
    if (queues === undefined) return [];
    const message = { properties: props as unknown as MessageProperties };
    return [...queues].sort().map((q) => {
      const info = resolveDeadLetter(message, { queue: q, origins });
      return { queue: q, info, group: groupMapKey(info) };
    });
  }

  function placeNow(e: JobEvent): PlacedDeadLetter[] {
    const dl = e.deadLetter;
    if (dl === undefined || e.queue === undefined || (e.status !== 'dead-lettered' && e.status !== 'blocked')) return [];
    const shape = `${e.queue}\0${e.route ?? '\u0001'}\0${dl.reason}\0${e.error?.class ?? '\u0001'}\0${dl.originExchange}\0${dl.originRoutingKey}`;
    let template = shapes.get(shape);
    if (template === undefined) {
      template = resolve(e, dl, e.queue);
      // Bounded: routing keys made from payloads can make many shapes; past the bound each is resolved alone.
      if (shapes.size < 10_000) shapes.set(shape, template);
    }
    const failedAt = Date.parse(dl.failedAt);
    return template.map((t) => ({
      queue: t.queue,
      group: t.group,
      info: {
        ...t.info,
        messageId: e.jobId,
        jobId: e.jobId,
        errorMessage: e.error?.message,
        failedAt: Number.isNaN(failedAt) ? undefined : failedAt,
        attempts: e.attempt,
        requeued: dl.requeued,
      },
    }));
  }

  return {
    /** The dead-letter queues a record's dead letter is in, with what a read of it there would show. */
    place(record: DeadLetterRecord): PlacedDeadLetter[] {
      let p = placed.get(record.event);
      if (p === undefined) placed.set(record.event, (p = placeNow(record.event)));
      return p;
    },
  };
}

/** A placer of {@link createDeadLetterPlacer}. */
export type DeadLetterPlacer = ReturnType<typeof createDeadLetterPlacer>;

/** Failure groups of one queue from the records: `total` is every record placed in the queue, the groups hold those that pass `filter`. */
export function groupsFromRecords(
  placer: DeadLetterPlacer,
  records: Iterable<DeadLetterRecord>,
  queue: string,
  filter: DlqFilter,
  maxRequeues: number,
): { total: number; matched: number; groups: DlqGroup[] } {
  const builder = createGroupBuilder(maxRequeues);
  const everything = isEmptyFilter(filter);
  let total = 0;
  let matched = 0;
  for (const r of records) {
    for (const p of placer.place(r)) {
      if (p.queue !== queue) continue;
      total++;
      if (!everything && !matchesFilter(p.info, filter)) continue;
      matched++;
      builder.add(p.info, p.group);
    }
  }
  return { total, matched, groups: builder.result() };
}
