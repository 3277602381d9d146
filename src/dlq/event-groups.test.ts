import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../config/load-topology.ts';
import { HEADERS } from '../jobs/headers.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import { readDeadLetter } from '../jobs/job-headers.ts';
import { deadLetterProperties } from '../jobs/message-properties.ts';
import { resolveDeadLetter } from './dead-letter-info.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { createDeadLetterPlacer, groupsFromRecords } from './event-groups.ts';
import { groupIdOf, groupKeyOf } from './message-filter.ts';
import { createOriginPolicy } from './origin-policy.ts';
import { TEST_TOPOLOGY } from './test-topology.test-support.ts';

/** A job of route `chat` from llm.standard, dead-lettered as the worker writes it: the message's properties and the event. */
function deadLettered(id: string, errorClass: string, reason: string, queue = 'llm.standard', failedAt = new Date('2026-12-03T10:00:00Z')) {
  const props = deadLetterProperties({ messageId: id, headers: { [HEADERS.route]: 'chat' } } as unknown as MessageProperties, {
    errorClass,
    errorMessage: `${errorClass} said no`,
    reason,
    attempts: 3,
    origin: { exchange: 'llm.jobs', routingKey: 'llm.standard.chat' },
    queue,
    failedAt,
  });
  const event: JobEvent = {
    jobId: id,
    status: 'dead-lettered',
    route: 'chat',
    queue,
    attempt: 3,
    at: failedAt.toISOString(),
    error: { class: errorClass, message: `${errorClass} said no` },
    deadLetter: readDeadLetter(props.headers as Record<string, unknown>),
  };
  return { props: props as unknown as MessageProperties, event };
}

describe('failure groups from dead-letter events', () => {
  const placer = createDeadLetterPlacer(TEST_TOPOLOGY);
  const origins = createOriginPolicy(createDlqTopology(TEST_TOPOLOGY));

  it('places an event in the DLQ its queue dead-letters to, with the group a read of the real message gives', () => {
    const { props, event } = deadLettered('j1', 'server-error', 'attempts-exhausted');
    const placed = placer.place({ event });
    expect(placed.map((p) => p.queue)).toEqual(['llm.dead']);
    const read = resolveDeadLetter({ properties: props }, { queue: 'llm.dead', origins });
    expect(groupIdOf(groupKeyOf(placed[0]!.info))).toBe(groupIdOf(groupKeyOf(read)));
    expect(placed[0]!.info).toMatchObject({ kind: read.kind, reason: read.reason, errorClass: read.errorClass, route: read.route, origin: read.origin, failedAt: read.failedAt, jobId: 'j1', requeued: 0 });
  });

  it('places nothing for a queue the topology lacks, a queue without a dead-letter target, or an event without its dead-letter part', () => {
    const { event } = deadLettered('j2', 'auth', 'auth');
    expect(placer.place({ event: { ...event, queue: 'no.such.queue' } })).toEqual([]);
    expect(placer.place({ event: { ...event, queue: 'llm.dead' } })).toEqual([]);
    const { deadLetter: _dl, ...older } = event;
    expect(placer.place({ event: older })).toEqual([]);
  });

  it('counts groups per queue: total is every record in the queue, groups only those that pass the filter', () => {
    const records = [
      deadLettered('a1', 'server-error', 'attempts-exhausted', 'llm.standard', new Date('2026-12-03T10:00:00Z')),
      deadLettered('a2', 'server-error', 'attempts-exhausted', 'llm.standard', new Date('2026-12-03T11:00:00Z')),
      deadLettered('b1', 'auth', 'auth', 'llm.realtime'),
    ].map((d) => ({ event: d.event }));
    const all = groupsFromRecords(placer, records, 'llm.dead', {}, 5);
    expect(all.total).toBe(3);
    expect(all.groups.map((g) => [g.origin, g.reason, g.errorClass, g.count])).toEqual([
      ['llm.standard', 'attempts-exhausted', 'server-error', 2],
      ['llm.realtime', 'auth', 'auth', 1],
    ]);
    expect(all.groups[0]).toMatchObject({ oldest: '2026-12-03T10:00:00.000Z', newest: '2026-12-03T11:00:00.000Z', routes: { chat: 2 }, sampleError: 'server-error said no' });
    const onlyAuth = groupsFromRecords(placer, records, 'llm.dead', { reason: ['auth'] }, 5);
    expect(onlyAuth).toMatchObject({ total: 3, matched: 1 });
    expect(groupsFromRecords(placer, records, 'tasks.unrouted', {}, 5).total).toBe(0);
  });

  it('follows the bindings: a dead-letter exchange that fans out places the job in each queue it reaches', () => {
    const t = parseTopology(
      `version: 1
exchanges:
  jobs: { type: direct }
  dlx: { type: fanout }
queues:
  work: { deadLetter: { exchange: dlx } }
  dead.a: { type: quorum }
  dead.b: { type: quorum }
bindings:
  - { source: jobs, queue: work, routingKey: work }
  - { source: dlx, queue: dead.a }
  - { source: dlx, queue: dead.b }
routes:
  task: { exchange: jobs, routingKey: work, schema: task }
`,
      'fan.yaml',
      { checkHandlers: false, env: {} },
    ).topology;
    const event: JobEvent = {
      jobId: 'f1',
      status: 'dead-lettered',
      queue: 'work',
      attempt: 1,
      at: '2026-12-03T10:00:00.000Z',
      error: { class: 'permanent', message: 'no' },
      deadLetter: { reason: 'permanent', originExchange: 'jobs', originRoutingKey: 'work', failedAt: '2026-12-03T10:00:00.000Z', requeued: 0 },
    };
    expect(createDeadLetterPlacer(t).place({ event }).map((p) => [p.queue, p.info.origin?.queue])).toEqual([
      ['dead.a', 'work'],
      ['dead.b', 'work'],
    ]);
  });
});
