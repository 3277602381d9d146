import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { ManagementApiError } from '../errors/index.ts';
import { emptyActualState, type ActualState } from './actual-state.ts';
import { applyPlan, executableSteps } from './apply-plan.ts';
import { desiredState, MANAGED_ARG } from './desired-state.ts';
import { createFakeManagement } from './fake-management.test-support.ts';
import type { TopologyPlan } from './plan-step.ts';
import { planTopology } from './plan-topology.ts';
import { TopologyApplyError } from './topology-apply-error.ts';
import { TopologyDriftError } from './topology-drift-error.ts';

const topology = topologySchema.parse({
  version: 1,
  connection: { vhost: 'v/1' },
  exchanges: { jobs: { type: 'topic' }, side: { type: 'fanout', internal: true } },
  queues: { work: { type: 'quorum', deadLetter: { exchange: 'jobs', routingKey: 'dead' } }, dead: {}, 'with space': { maxPriority: 3 } },
  bindings: [
    { source: 'jobs', queue: 'work', routingKey: 'work.#' },
    { source: 'jobs', exchange: 'side', routingKey: '#' },
    { source: 'side', queue: 'dead' },
  ],
});
const desired = desiredState(topology);

function fromScratch(): TopologyPlan {
  return planTopology(desired, emptyActualState('v/1', false));
}

const managed = { [MANAGED_ARG]: true };

/** The desired state plus one stale warren object of each kind. */
function withExtras(): ActualState {
  return {
    vhost: 'v/1',
    vhostExists: true,
    exchanges: [
      ...desired.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
      { name: 'old.x', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: managed },
    ],
    queues: [
      ...desired.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments, messages: 0 })),
      { name: 'old.q', type: 'classic', durable: true, autoDelete: false, arguments: managed, messages: 2 },
    ],
    bindings: [
      ...desired.bindings.map((b, i) => ({ ...b, propertiesKey: `k${i}` })),
      { source: 'jobs', destination: 'old.q', destinationType: 'queue', routingKey: 'a/b', arguments: managed, propertiesKey: 'a%2Fb~x' },
    ],
    policies: [
      ...desired.policies.map((p) => ({ name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: p.definition })),
      { name: 'warren.q.old.q', pattern: '^old\\.q$', applyTo: 'queues', priority: 100, definition: { 'message-ttl': 1 } },
    ],
  };
}

describe('applyPlan', () => {
  it('writes every object with the management API body RabbitMQ expects, policies before the queues they match', async () => {
    const m = createFakeManagement();
    const result = await applyPlan(m, fromScratch(), { concurrency: 4 });
    expect(result.writes).toBe(m.writes.length);
    expect(m.writes).toEqual([
      { method: 'PUT', path: '/vhosts/v%2F1', body: { description: 'managed by warren' } },
      { method: 'PUT', path: '/exchanges/v%2F1/jobs', body: { type: 'topic', durable: true, auto_delete: false, internal: false, arguments: managed } },
      { method: 'PUT', path: '/exchanges/v%2F1/side', body: { type: 'fanout', durable: true, auto_delete: false, internal: true, arguments: managed } },
      { method: 'PUT', path: '/exchanges/v%2F1/warren.events', body: { type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: managed } },
      {
        method: 'PUT',
        path: '/policies/v%2F1/warren.q.work',
        body: { pattern: '^work$', 'apply-to': 'queues', priority: 100, definition: { 'dead-letter-exchange': 'jobs', 'dead-letter-routing-key': 'dead' } },
      },
      // warren's streams keep their retention in a policy (changeable in place), not in arguments.
      {
        method: 'PUT',
        path: '/policies/v%2F1/warren.q.warren.events.log',
        body: { pattern: '^warren\\.events\\.log$', 'apply-to': 'queues', priority: 100, definition: { 'max-age': '604800s', 'max-length-bytes': 20_000_000_000 } },
      },
      {
        method: 'PUT',
        path: '/policies/v%2F1/warren.q.warren.events.checkpoints',
        body: { pattern: '^warren\\.events\\.checkpoints$', 'apply-to': 'queues', priority: 100, definition: { 'max-age': '604800s', 'max-length-bytes': 200_000_000 } },
      },
      { method: 'PUT', path: '/queues/v%2F1/work', body: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum', ...managed } } },
      { method: 'PUT', path: '/queues/v%2F1/dead', body: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', ...managed } } },
      { method: 'PUT', path: '/queues/v%2F1/with%20space', body: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', ...managed, 'x-max-priority': 3 } } },
      {
        method: 'PUT',
        path: '/queues/v%2F1/warren.events.log',
        body: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream', ...managed } },
      },
      { method: 'PUT', path: '/queues/v%2F1/warren.events.checkpoints', body: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream', ...managed } } },
      { method: 'POST', path: '/bindings/v%2F1/e/warren.events/q/warren.events.log', body: { routing_key: '', arguments: managed } },
      { method: 'POST', path: '/bindings/v%2F1/e/jobs/q/work', body: { routing_key: 'work.#', arguments: managed } },
      { method: 'POST', path: '/bindings/v%2F1/e/jobs/e/side', body: { routing_key: '#', arguments: managed } },
      { method: 'POST', path: '/bindings/v%2F1/e/side/q/dead', body: { routing_key: '', arguments: managed } },
    ]);
  });

  it('does nothing for an empty plan', async () => {
    const m = createFakeManagement();
    const result = await applyPlan(m, { vhost: '/', steps: [], warnings: [] });
    expect(result).toMatchObject({ writes: 0, done: [], kept: [] });
    expect(m.writes).toEqual([]);
  });

  it('keeps extras without prune, deletes bindings and policies with prune, queues and exchanges only with pruneQueues', async () => {
    const plan = planTopology(desired, withExtras());
    expect(plan.steps.map((s) => `${s.kind} ${s.object} ${s.name}`)).toEqual([
      'extra binding jobs -> queue old.q [a/b]',
      'extra policy warren.q.old.q',
      'extra queue old.q',
      'extra exchange old.x',
    ]);

    const none = createFakeManagement();
    const kept = await applyPlan(none, plan);
    expect(none.writes).toEqual([]);
    expect(kept.kept).toHaveLength(4);

    const prune = createFakeManagement();
    await applyPlan(prune, plan, { prune: true });
    expect(prune.writes).toEqual([
      { method: 'DELETE', path: '/bindings/v%2F1/e/jobs/q/old.q/a%252Fb~x' },
      { method: 'DELETE', path: '/policies/v%2F1/warren.q.old.q' },
    ]);

    const all = createFakeManagement();
    const result = await applyPlan(all, plan, { pruneQueues: true });
    expect(all.writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      'DELETE /bindings/v%2F1/e/jobs/q/old.q/a%252Fb~x',
      'DELETE /policies/v%2F1/warren.q.old.q',
      'DELETE /queues/v%2F1/old.q',
      'DELETE /exchanges/v%2F1/old.x',
    ]);
    expect(result.kept).toEqual([]);
  });

  it('deletes the policy of a queue that no longer sets anything', async () => {
    const state = withExtras();
    const bare = desiredState(topologySchema.parse({ ...topology, queues: { ...topology.queues, work: { type: 'quorum', deadLetter: undefined } } }));
    // `work` keeps no settings, so it needs no dead-letter target check here: desiredState does not validate.
    const plan = planTopology(bare, state);
    const m = createFakeManagement();
    await applyPlan(m, plan);
    expect(m.writes).toEqual([{ method: 'DELETE', path: '/policies/v%2F1/warren.q.work' }]);
  });

  it('refuses a plan with cannot-change steps and writes nothing', async () => {
    const state = withExtras();
    const work = state.queues.find((q) => q.name === 'work');
    if (!work) throw new Error('fixture');
    work.type = 'classic';
    const plan = planTopology(desired, { ...state, policies: [] });
    expect(executableSteps(plan).length).toBeGreaterThan(0);
    const m = createFakeManagement();
    const err = await applyPlan(m, plan, { pruneQueues: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopologyDriftError);
    expect(err).toMatchObject({ code: 'TOPOLOGY_DRIFT', steps: [{ object: 'queue', name: 'work' }] });
    expect((err as Error).message).toBe(
      "topology can't be applied to vhost 'v/1': 1 object differs in a way RabbitMQ can't change in place. Nothing was applied.\n" +
        "  ! queue 'work' is classic on the broker but quorum in topology.yaml; RabbitMQ can't change a queue's type. " +
        'Drain it and delete it (rabbitmqctl delete_queue -p v/1 work / the UI), or rename the queue in topology.yaml, then apply again.',
    );
    expect(m.writes).toEqual([]);
  });

  it('stops at a failed write and says exactly what was done, what failed and what was not attempted', async () => {
    const m = createFakeManagement({
      failWrite: (w) =>
        w.path === '/queues/v%2F1/dead'
          ? new ManagementApiError(400, 'PUT failed', { details: { status: 400, reason: "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'" } })
          : undefined,
    });
    const err = await applyPlan(m, fromScratch(), { concurrency: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopologyApplyError);
    const report = (err as TopologyApplyError).report;
    expect(report).toEqual({
      done: [
        "create vhost 'v/1'",
        "create exchange 'jobs'",
        "create exchange 'side'",
        "create exchange 'warren.events'",
        "create policy 'warren.q.work'",
        "create policy 'warren.q.warren.events.log'",
        "create policy 'warren.q.warren.events.checkpoints'",
        "create queue 'work'",
      ],
      failed: [
        {
          step: "create queue 'dead'",
          error:
            "the broker refused (PRECONDITION_FAILED - inequivalent arg 'x-queue-type'); the queue changed on the broker since the plan was made. Run plan again to see the difference.",
        },
      ],
      notAttempted: [
        "create queue 'with space'",
        "create queue 'warren.events.log'",
        "create queue 'warren.events.checkpoints'",
        'create binding warren.events -> queue warren.events.log',
        'create binding jobs -> queue work [work.#]',
        'create binding jobs -> exchange side [#]',
        'create binding side -> queue dead',
      ],
    });
    expect((err as Error).message).toBe(
      [
        "topology apply to vhost 'v/1' stopped: 1 step failed, 8 done, 7 not attempted.",
        '  failed:',
        "    create queue 'dead': the broker refused (PRECONDITION_FAILED - inequivalent arg 'x-queue-type'); the queue changed on the broker since the plan was made. Run plan again to see the difference.",
        '  already done (these changes are on the broker now):',
        "    create vhost 'v/1'",
        "    create exchange 'jobs'",
        "    create exchange 'side'",
        "    create exchange 'warren.events'",
        "    create policy 'warren.q.work'",
        "    create policy 'warren.q.warren.events.log'",
        "    create policy 'warren.q.warren.events.checkpoints'",
        "    create queue 'work'",
        '  not attempted:',
        "    create queue 'with space'",
        "    create queue 'warren.events.log'",
        "    create queue 'warren.events.checkpoints'",
        '    create binding warren.events -> queue warren.events.log',
        '    create binding jobs -> queue work [work.#]',
        '    create binding jobs -> exchange side [#]',
        '    create binding side -> queue dead',
        'Fix the cause and run apply again: it plans from what the broker now holds and does only what is left.',
      ].join('\n'),
    );
    expect(m.writes.map((w) => w.path)).toEqual([
      '/vhosts/v%2F1',
      '/exchanges/v%2F1/jobs',
      '/exchanges/v%2F1/side',
      '/exchanges/v%2F1/warren.events',
      '/policies/v%2F1/warren.q.work',
      '/policies/v%2F1/warren.q.warren.events.log',
      '/policies/v%2F1/warren.q.warren.events.checkpoints',
      '/queues/v%2F1/work',
    ]);
  });

  it('never starts the next phase after a failure, even with writes in flight', async () => {
    const m = createFakeManagement({ failWrite: (w) => (w.path === '/queues/v%2F1/work' ? new Error('socket hang up') : undefined) });
    const err = (await applyPlan(m, fromScratch(), { concurrency: 8 }).catch((e: unknown) => e)) as TopologyApplyError;
    expect(err.report.failed).toEqual([{ step: "create queue 'work'", error: 'socket hang up' }]);
    // The other queue writes of the phase were already in flight and finished; no binding was attempted.
    expect(err.report.done.filter((d) => d.startsWith('create queue'))).toHaveLength(4);
    expect(m.writes.some((w) => w.path.startsWith('/bindings'))).toBe(false);
    expect(err.report.notAttempted).toEqual([
      'create binding warren.events -> queue warren.events.log',
      'create binding jobs -> queue work [work.#]',
      'create binding jobs -> exchange side [#]',
      'create binding side -> queue dead',
    ]);
  });
});
