import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { emptyActualState, type ActualState } from './actual-state.ts';
import { desiredState, MANAGED_ARG, type DesiredState } from './desired-state.ts';
import { bindingKey, planTopology } from './plan-topology.ts';
import type { CannotChangeStep, ExtraStep, UpdateStep } from './plan-step.ts';

function topo(input: Record<string, unknown>) {
  return topologySchema.parse({ version: 1, ...input });
}

function omit<T extends object>(record: T, ...keys: string[]): T {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k))) as T;
}

/** What the broker would report after applying `desired` exactly (arguments reversed to prove key order doesn't matter). */
function applied(desired: DesiredState): ActualState {
  const reverse = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).reverse());
  return {
    vhost: desired.vhost,
    vhostExists: true,
    exchanges: [
      { name: '', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} },
      { name: 'amq.topic', type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {} },
      ...desired.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: reverse(e.arguments) })),
    ],
    queues: desired.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: reverse(q.arguments), messages: 0 })),
    bindings: [
      // The default exchange's implicit bindings, as the management API lists them.
      ...desired.queues.map((q) => ({ source: '', destination: q.name, destinationType: 'queue' as const, routingKey: q.name, arguments: {}, propertiesKey: q.name })),
      ...desired.bindings.map((b, i) => ({ ...b, arguments: reverse(b.arguments), propertiesKey: `~key${i}` })),
    ],
    policies: desired.policies.map((p) => ({ name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: reverse(p.definition) })),
  };
}

const base = topo({
  exchanges: {
    jobs: { type: 'topic' },
    dlx: { type: 'direct' },
    docs: { type: 'headers', alternateExchange: 'unrouted' },
    unrouted: { type: 'fanout' },
  },
  queues: {
    work: { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, maxLength: 100, overflow: 'reject-publish', deliveryLimit: 5, retry: 'fast' },
    batch: { type: 'classic', maxPriority: 10, messageTtl: '1h', deadLetter: { exchange: 'dlx' } },
    dead: { type: 'classic' },
    pdf: { type: 'classic' },
    log: { type: 'stream', retention: { maxAge: '3d' } },
  },
  bindings: [
    { source: 'jobs', queue: 'work', routingKey: 'job.*.work' },
    { source: 'jobs', queue: 'batch', routingKey: 'job.#' },
    { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    { source: 'docs', queue: 'pdf', headers: { match: 'all', values: { format: 'pdf', pages: 3, ocr: true } } },
    { source: 'unrouted', exchange: 'jobs' },
  ],
  retryPolicies: { fast: { attempts: 3, backoff: ['1s', '5s'] } },
});
const desired = desiredState(base);

describe('planTopology', () => {
  it('plans everything, in apply order, for a vhost that does not exist yet', () => {
    const plan = planTopology(desired, emptyActualState('/', false));
    expect(plan.steps.every((s) => s.kind === 'create')).toBe(true);
    const order = plan.steps.map((s) => s.object);
    expect(order[0]).toBe('vhost');
    const firstIndex = (o: string) => order.indexOf(o as never);
    const lastIndex = (o: string) => order.lastIndexOf(o as never);
    expect(lastIndex('exchange')).toBeLessThan(firstIndex('policy'));
    expect(lastIndex('policy')).toBeLessThan(firstIndex('queue'));
    expect(lastIndex('queue')).toBeLessThan(firstIndex('binding'));
    expect(plan.steps.filter((s) => s.object === 'exchange')).toHaveLength(desired.exchanges.length);
    expect(plan.steps.filter((s) => s.object === 'queue')).toHaveLength(desired.queues.length);
    expect(plan.steps.filter((s) => s.object === 'binding')).toHaveLength(desired.bindings.length);
    expect(plan.steps.filter((s) => s.object === 'policy')).toHaveLength(desired.policies.length);
    expect(plan.warnings).toEqual([]);
  });

  it('does not create the vhost when it exists', () => {
    const plan = planTopology(desired, emptyActualState('/'));
    expect(plan.steps.some((s) => s.object === 'vhost')).toBe(false);
  });

  it('has nothing to do on a broker that holds exactly the desired state, whatever the key order', () => {
    const plan = planTopology(desired, applied(desired));
    expect(plan.steps).toEqual([]);
    expect(plan.warnings).toEqual([]);
  });

  it("accepts warren's streams declared with retention arguments by an older version (no drift), and adds their retention policies", () => {
    const desired = desiredState(base);
    const actual = applied(desired);
    actual.policies = actual.policies.filter((p) => !p.name.startsWith('warren.q.warren.events'));
    const log = actual.queues.find((q) => q.name === 'warren.events.log');
    if (!log) throw new Error('fixture');
    log.arguments = { ...log.arguments, 'x-max-age': '7D', 'x-max-length-bytes': 1_000_000_000 };
    const plan = planTopology(desired, actual);
    expect(plan.steps.filter((s) => s.kind === 'cannot-change')).toEqual([]);
    expect(plan.steps.filter((s) => s.object === 'policy').map((s) => `${s.kind} ${s.name}`)).toEqual(['create warren.q.warren.events.log', 'create warren.q.warren.events.checkpoints']);
    // A user queue with the same arguments set behind the file's back is still drift.
    const other = topo({ queues: { log: { type: 'stream' } } });
    const otherActual = applied(desiredState(other));
    const q = otherActual.queues.find((x) => x.name === 'log');
    if (!q) throw new Error('fixture');
    q.arguments = { ...q.arguments, 'x-max-length-bytes': 1_000 };
    expect(planTopology(desiredState(other), otherActual).steps.filter((s) => s.kind === 'cannot-change').map((s) => s.name)).toEqual(['log']);
  });

  it('treats x-max-age spellings of the same retention as equal', () => {
    const actual = applied(desired);
    const log = actual.queues.find((q) => q.name === 'log');
    if (!log) throw new Error('fixture');
    expect(log.arguments['x-max-age']).toBe('259200s');
    log.arguments['x-max-age'] = '3D';
    expect(planTopology(desired, actual).steps).toEqual([]);
  });

  it('accepts a classic queue declared without x-queue-type and one created without the warren marker', () => {
    const actual = applied(desired);
    for (const q of actual.queues) {
      if (q.name === 'dead') delete q.arguments['x-queue-type'];
      if (q.name === 'work') delete q.arguments[MANAGED_ARG];
    }
    expect(planTopology(desired, actual).steps).toEqual([]);
  });

  it('plans an in-place policy update when a DLX or TTL changes', () => {
    const changed = desiredState(
      topo({ ...base, queues: { ...base.queues, batch: { ...base.queues.batch, messageTtl: 60_000, deadLetter: { exchange: 'unrouted' } } } }),
    );
    const plan = planTopology(changed, applied(desired));
    expect(plan.steps).toHaveLength(1);
    const step = plan.steps[0] as UpdateStep;
    expect(step).toMatchObject({ kind: 'update', object: 'policy', name: 'warren.q.batch', queue: 'batch' });
    expect(step.changes).toEqual([
      { field: 'dead-letter-exchange', actual: 'dlx', desired: 'unrouted' },
      { field: 'message-ttl', actual: 3_600_000, desired: 60_000 },
    ]);
    expect(step.policy?.definition).toEqual({ 'dead-letter-exchange': 'unrouted', 'message-ttl': 60_000 });
  });

  it('plans a policy for a queue that gains its first setting', () => {
    const changed = desiredState(topo({ ...base, queues: { ...base.queues, dead: { type: 'classic', maxLength: 5 } } }));
    const plan = planTopology(changed, applied(desired));
    expect(plan.steps).toEqual([
      { kind: 'create', object: 'policy', name: 'warren.q.dead', policy: { name: 'warren.q.dead', pattern: '^dead$', applyTo: 'queues', priority: 100, definition: { 'max-length': 5 } } },
    ]);
  });

  it('removes the policy of a queue that no longer sets anything, without --prune', () => {
    const changed = desiredState(topo({ ...base, queues: { ...base.queues, batch: { type: 'classic', maxPriority: 10 } } }));
    const plan = planTopology(changed, applied(desired));
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]).toMatchObject({
      kind: 'update',
      object: 'policy',
      name: 'warren.q.batch',
      queue: 'batch',
      policy: null,
      changes: [
        { field: 'message-ttl', actual: 3_600_000, desired: undefined },
        { field: 'dead-letter-exchange', actual: 'dlx', desired: undefined },
      ],
    });
  });

  it('updates a warren policy whose priority or pattern was edited on the broker', () => {
    const actual = applied(desired);
    const p = actual.policies.find((x) => x.name === 'warren.q.work');
    if (!p) throw new Error('fixture');
    p.priority = 1;
    p.pattern = '^work';
    const plan = planTopology(desired, actual);
    expect(plan.steps).toHaveLength(1);
    expect((plan.steps[0] as UpdateStep).changes).toEqual([
      { field: 'pattern', actual: '^work', desired: '^work$' },
      { field: 'priority', actual: 1, desired: 100 },
    ]);
  });

  it('refuses a queue type change with a message that says what to do', () => {
    const actual = applied(desired);
    const q = actual.queues.find((x) => x.name === 'work');
    if (!q) throw new Error('fixture');
    q.type = 'classic';
    q.arguments['x-queue-type'] = 'classic';
    const plan = planTopology(desired, actual);
    expect(plan.steps).toEqual([
      {
        kind: 'cannot-change',
        object: 'queue',
        name: 'work',
        changes: [{ field: 'type', actual: 'classic', desired: 'quorum' }],
        message:
          "queue 'work' is classic on the broker but quorum in topology.yaml; RabbitMQ can't change a queue's type. " +
          'Drain it and delete it (rabbitmqctl delete_queue work / the UI), or rename the queue in topology.yaml, then apply again.',
      },
    ]);
  });

  it('names the vhost and the file in the fix', () => {
    const d = desiredState(topo({ ...base, connection: { vhost: 'prod' } }));
    const actual = applied(d);
    const q = actual.queues.find((x) => x.name === 'batch');
    if (!q) throw new Error('fixture');
    q.durable = false;
    const step = planTopology(d, actual, { file: 'conf/prod.yaml' }).steps[0] as CannotChangeStep;
    expect(step.message).toBe(
      "queue 'batch' is not durable on the broker but durable in conf/prod.yaml; RabbitMQ can't change a queue's durability. " +
        'Drain it and delete it (rabbitmqctl delete_queue -p prod batch / the UI), or rename the queue in conf/prod.yaml, then apply again.',
    );
  });

  it('refuses changed, missing and unexpected structural arguments', () => {
    const actual = applied(desired);
    const batch = actual.queues.find((x) => x.name === 'batch');
    const dead = actual.queues.find((x) => x.name === 'dead');
    const log = actual.queues.find((x) => x.name === 'log');
    if (!batch || !dead || !log) throw new Error('fixture');
    batch.arguments['x-max-priority'] = 5;
    dead.arguments['x-message-ttl'] = 1000;
    delete log.arguments['x-max-age'];
    const steps = planTopology(desired, actual).steps as CannotChangeStep[];
    expect(steps.map((s) => s.name)).toEqual(['batch', 'dead', 'log']);
    expect(steps[0]?.message).toBe(
      "queue 'batch' has x-max-priority 5 on the broker but 10 in topology.yaml (maxPriority); queue arguments are fixed when a queue is declared. " +
        'Drain it and delete it (rabbitmqctl delete_queue batch / the UI), or rename the queue in topology.yaml, then apply again.',
    );
    expect(steps[1]?.message).toBe(
      "queue 'dead' has argument x-message-ttl=1000 on the broker, which topology.yaml doesn't declare (arguments outrank warren's policy and can't be removed); " +
        'queue arguments are fixed when a queue is declared. Drain it and delete it (rabbitmqctl delete_queue dead / the UI), or rename the queue in topology.yaml, then apply again.',
    );
    expect(steps[2]?.message).toContain("queue 'log' has no x-max-age on the broker but topology.yaml sets retention.maxAge to '259200s'");
  });

  it('combines several differences of one queue into one step', () => {
    const actual = applied(desired);
    const q = actual.queues.find((x) => x.name === 'batch');
    if (!q) throw new Error('fixture');
    q.type = 'quorum';
    q.arguments['x-queue-type'] = 'quorum';
    delete q.arguments['x-max-priority'];
    const step = planTopology(desired, actual).steps[0] as CannotChangeStep;
    expect(step.changes.map((c) => c.field)).toEqual(['type', 'x-max-priority']);
    expect(step.message).toBe(
      "queue 'batch' is quorum on the broker but classic in topology.yaml; it has no x-max-priority on the broker but topology.yaml sets maxPriority to 10; " +
        "RabbitMQ can't change these on an existing queue. Drain it and delete it (rabbitmqctl delete_queue batch / the UI), or rename the queue in topology.yaml, then apply again.",
    );
  });

  it('explains that a retry wait queue is derived, not renamed', () => {
    const actual = applied(desired);
    const q = actual.queues.find((x) => x.name === 'work.retry.1s');
    if (!q) throw new Error('fixture');
    q.type = 'classic';
    const step = planTopology(desired, actual).steps[0] as CannotChangeStep;
    expect(step.message).toBe(
      "queue 'work.retry.1s' is classic on the broker but quorum in topology.yaml; RabbitMQ can't change a queue's type. " +
        'It is a retry wait queue warren derives from its work queue: drain it and delete it (rabbitmqctl delete_queue work.retry.1s / the UI), then apply again to recreate it.',
    );
  });

  it('refuses exchange type and alternate-exchange changes', () => {
    const actual = applied(desired);
    const jobs = actual.exchanges.find((x) => x.name === 'jobs');
    const docs = actual.exchanges.find((x) => x.name === 'docs');
    if (!jobs || !docs) throw new Error('fixture');
    jobs.type = 'direct';
    docs.arguments['alternate-exchange'] = 'elsewhere';
    docs.internal = true;
    const steps = planTopology(desired, actual).steps as CannotChangeStep[];
    expect(steps.map((s) => [s.object, s.name])).toEqual([
      ['exchange', 'jobs'],
      ['exchange', 'docs'],
    ]);
    expect(steps[0]?.message).toBe(
      "exchange 'jobs' is direct on the broker but topic in topology.yaml; RabbitMQ can't change an exchange's type. " +
        'Delete it (rabbitmqadmin delete exchange name=jobs / the UI; its bindings go with it) and apply again to recreate it, or rename the exchange in topology.yaml, then apply again.',
    );
    expect(steps[1]?.message).toContain(
      "exchange 'docs' is internal on the broker but not internal in topology.yaml; it has alternate-exchange 'elsewhere' on the broker but 'unrouted' in topology.yaml (alternateExchange)",
    );
  });

  it('lists warren objects the file no longer has as extra, and ignores everything unmanaged and built in', () => {
    const smaller = desiredState(
      topo({
        ...base,
        queues: omit(base.queues, 'pdf'),
        exchanges: omit(base.exchanges, 'docs'),
        bindings: base.bindings.filter((b) => b.source !== 'docs' && b.routingKey !== 'job.#'),
      }),
    );
    const actual = applied(desired);
    actual.exchanges.push({ name: 'someone.else', type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: {} });
    actual.exchanges.push({ name: 'amq.custom', type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: { [MANAGED_ARG]: true } });
    actual.queues.push({ name: 'their.queue', type: 'classic', durable: true, autoDelete: false, arguments: {}, messages: 3 });
    actual.bindings.push({ source: 'jobs', destination: 'their.queue', destinationType: 'queue', routingKey: '#', arguments: {}, propertiesKey: '%23' });
    actual.policies.push({ name: 'ops.ha', pattern: '.*', applyTo: 'exchanges', priority: 0, definition: { 'alternate-exchange': 'x' } });
    const pdf = actual.queues.find((q) => q.name === 'pdf');
    if (pdf) pdf.messages = 7;

    const plan = planTopology(smaller, actual);
    const extras = plan.steps as ExtraStep[];
    expect(extras.every((s) => s.kind === 'extra')).toBe(true);
    expect(extras.map((s) => `${s.object} ${s.name}`)).toEqual([
      'binding jobs -> queue batch [job.#]',
      'binding docs -> queue pdf {x-match: "all", format: "pdf", ocr: true, pages: 3}',
      'queue pdf',
      'exchange docs',
    ]);
    expect(extras[2]).toMatchObject({ object: 'queue', queue: { messages: 7 } });
  });

  it('lists a removed queue with its binding and warren policy as extra, not as an update', () => {
    const smaller = desiredState(topo({ ...base, queues: omit(base.queues, 'batch'), bindings: base.bindings.filter((b) => b.queue !== 'batch') }));
    const plan = planTopology(smaller, applied(desired));
    expect(plan.steps.map((s) => `${s.kind} ${s.object} ${s.name}`)).toEqual([
      'extra binding jobs -> queue batch [job.#]',
      'extra policy warren.q.batch',
      'extra queue batch',
    ]);
  });

  it('identifies bindings by source, destination, type, key and arguments', () => {
    const actual = applied(desired);
    const pdfBinding = actual.bindings.find((b) => b.source === 'docs');
    if (!pdfBinding) throw new Error('fixture');
    pdfBinding.arguments = { ...pdfBinding.arguments, 'x-match': 'any' };
    const plan = planTopology(desired, actual);
    expect(plan.steps.map((s) => `${s.kind} ${s.name}`)).toEqual([
      'create docs -> queue pdf {x-match: "all", format: "pdf", ocr: true, pages: 3}',
      'extra docs -> queue pdf {x-match: "any", format: "pdf", ocr: true, pages: 3}',
    ]);
  });

  it('tells an exchange destination from a queue destination of the same name', () => {
    const d = desiredState(topo({ exchanges: { a: { type: 'fanout' }, b: { type: 'fanout' } }, queues: { b: {} }, bindings: [{ source: 'a', exchange: 'b' }] }));
    const actual = applied(d);
    const e2e = actual.bindings.find((b) => b.source === 'a');
    if (!e2e) throw new Error('fixture');
    e2e.destinationType = 'queue';
    const kinds = planTopology(d, actual).steps.map((s) => `${s.kind} ${s.name}`);
    expect(kinds).toEqual(['create a -> exchange b', 'extra a -> queue b']);
  });

  it('counts a binding someone else created as present, and plans a listed binding once', () => {
    const d = desiredState(
      topo({
        exchanges: { a: { type: 'direct' } },
        queues: { q: {} },
        bindings: [
          { source: 'a', queue: 'q', routingKey: 'k' },
          { source: 'a', queue: 'q', routingKey: 'k' },
          { source: 'a', queue: 'q', routingKey: 'other' },
        ],
      }),
    );
    const actual = applied(d);
    actual.bindings = actual.bindings.filter((b) => b.source !== 'a');
    actual.bindings.push({ source: 'a', destination: 'q', destinationType: 'queue', routingKey: 'k', arguments: {}, propertiesKey: 'k' });
    expect(planTopology(d, actual).steps.map((s) => `${s.kind} ${s.name}`)).toEqual(['create a -> queue q [other]']);
  });

  it('warns when an operator policy outranks warren policy on a queue', () => {
    const actual = applied(desired);
    actual.policies.push({ name: 'ops.limits', pattern: '^(work|dead)$', applyTo: 'queues', priority: 200, definition: { 'max-length': 1 } });
    actual.policies.push({ name: 'ops.low', pattern: '.*', applyTo: 'all', priority: 1, definition: { 'max-length': 1 } });
    actual.policies.push({ name: 'ops.broken', pattern: '(', applyTo: 'queues', priority: 500, definition: {} });
    const plan = planTopology(desired, actual);
    expect(plan.steps).toEqual([]);
    expect(plan.warnings).toEqual([
      {
        object: 'policy',
        name: 'warren.q.work',
        message:
          "policy 'ops.limits' (priority 200) also matches queue 'work' and outranks warren's 'warren.q.work' (priority 100); RabbitMQ applies only one policy per queue, " +
          "so the settings in topology.yaml won't take effect. Lower its priority below 100 or narrow its pattern.",
      },
    ]);
  });

  it('is pure: planning twice gives equal plans and leaves its inputs alone', () => {
    const actual = applied(desired);
    const before = JSON.stringify(actual);
    expect(planTopology(desired, actual)).toEqual(planTopology(desired, actual));
    expect(JSON.stringify(actual)).toBe(before);
  });
});

describe('bindingKey', () => {
  it('ignores argument order and the warren marker', () => {
    const a = { source: 's', destination: 'q', destinationType: 'queue' as const, routingKey: '', arguments: { 'x-match': 'any', a: 1, [MANAGED_ARG]: true } };
    const b = { ...a, arguments: { a: 1, 'x-match': 'any' } };
    expect(bindingKey(a)).toBe(bindingKey(b));
    expect(bindingKey(a)).not.toBe(bindingKey({ ...b, arguments: { a: '1', 'x-match': 'any' } }));
  });
});
