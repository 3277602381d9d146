import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { applyPlan, desiredState, ensureTopology, exportDefinitions, readActualState, summarizePlan } from '../../src/topology/index.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { planOn, queueView, shippedTopology, waitFor } from './helpers/topology.ts';
import { deleteVhostWithEventKey } from '../../src/jobs/job-event-key.ts';

describe('topology apply of the shipped topology.yaml against the real broker', () => {
  let vh: TestVhost;
  let topology: Topology;

  beforeAll(async () => {
    vh = await createTestVhost('topo-apply');
    topology = shippedTopology(vh);
  });

  afterAll(async () => {
    await vh?.cleanup();
  });

  it('applies from scratch: every planned step becomes one write', async () => {
    const plan = await planOn(topology, vh.management);
    const desired = desiredState(topology);
    expect(summarizePlan(plan)).toEqual({ create: desired.exchanges.length + desired.queues.length + desired.bindings.length + desired.policies.length, update: 0, cannotChange: 0, extra: 0 });

    const result = await applyPlan(vh.management, plan);
    expect(result.writes).toBe(plan.steps.length);

    const actual = await readActualState(vh.management, vh.vhost);
    for (const e of desired.exchanges) expect(actual.exchanges.find((a) => a.name === e.name)?.type).toBe(e.type);
    for (const q of desired.queues) expect(actual.queues.find((a) => a.name === q.name)?.type).toBe(q.type);
    for (const p of desired.policies) expect(actual.policies.find((a) => a.name === p.name)?.definition).toEqual(p.definition);
  });

  it('re-apply is a no-op: the plan is empty and apply writes nothing', async () => {
    const plan = await planOn(topology, vh.management);
    expect(plan.steps).toEqual([]);
    expect(plan.warnings).toEqual([]);
    const result = await applyPlan(vh.management, plan);
    expect(result.writes).toBe(0);
  });

  it('creates quorum, classic and stream queues with the right type and structural arguments', async () => {
    const expectations: [string, string, Record<string, unknown>][] = [
      ['llm.realtime', 'quorum', {}],
      ['llm.standard', 'quorum', {}],
      ['llm.realtime.retry.5s', 'quorum', {}],
      ['llm.batch', 'classic', { 'x-max-priority': 10 }],
      ['llm.batch.retry.10m', 'classic', {}],
      ['tasks.default', 'classic', {}],
      ['llm.results.log', 'stream', { 'x-max-age': '259200s', 'x-max-length-bytes': 1_000_000_000 }],
      // warren's own streams: retention sits in their policies (changeable in place), not in arguments.
      ['warren.events.log', 'stream', {}],
      ['warren.events.checkpoints', 'stream', {}],
    ];
    for (const [name, type, args] of expectations) {
      const q = await queueView(vh, name);
      expect(q.type, name).toBe(type);
      expect(q.arguments, name).toMatchObject({ 'x-warren-managed': true, ...args });
    }
    expect(Object.keys((await queueView(vh, 'warren.events.log')).arguments).sort()).toEqual(['x-queue-type', 'x-warren-managed']);
  });

  it('puts changeable settings in a warren policy that the broker applies to the queue', async () => {
    const realtime = await waitFor('llm.realtime to show its policy', async () => {
      const q = await queueView(vh, 'llm.realtime');
      return q.policy === 'warren.q.llm.realtime' ? q : undefined;
    });
    expect(realtime.effective_policy_definition).toEqual({
      'dead-letter-exchange': 'llm.dlx',
      'dead-letter-routing-key': 'llm.dead',
      'dead-letter-strategy': 'at-least-once',
      'delivery-limit': 5,
      'max-length': 10000,
      overflow: 'reject-publish',
    });
    // Nothing a policy can change sits in the arguments, so editing it never needs a delete.
    expect(Object.keys(realtime.arguments).sort()).toEqual(['x-queue-type', 'x-warren-managed']);
  });

  it('exports definitions the broker imports into an identical topology', async () => {
    const other = await createTestVhost('topo-import');
    try {
      const copy: Topology = { ...topology, connection: { ...topology.connection, vhost: other.vhost } };
      const definitions = exportDefinitions(desiredState(copy));
      // POST /api/definitions is the HTTP face of `rabbitmqctl import_definitions`.
      await other.management.post('/definitions', definitions);
      const plan = await planOn(copy, other.management);
      expect(plan.steps).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });

  it('creates the vhost when it does not exist yet', async () => {
    const vhost = `warren-test-topo-newvhost-${randomUUID().slice(0, 8)}`;
    const fresh: Topology = { ...topology, connection: { ...topology.connection, vhost } };
    try {
      const plan = await planOn(fresh, vh.management);
      expect(plan.steps[0]).toEqual({ kind: 'create', object: 'vhost', name: vhost });
      await applyPlan(vh.management, plan);
      expect((await planOn(fresh, vh.management)).steps).toEqual([]);
    } finally {
      await deleteVhostWithEventKey(vh.management, vhost);
    }
  });

  it('ensureTopology (boot) applies what is missing and is a no-op afterwards', async () => {
    // Remove one policy and one binding behind warren's back, as an operator might.
    await vh.management.delete(`/policies/${seg(vh.vhost)}/warren.q.tasks.default`);
    const bindings = await vh.management.get<{ source: string; destination: string; properties_key: string }[]>(`/bindings/${seg(vh.vhost)}/e/tasks/q/tasks.default`);
    for (const b of bindings) await vh.management.delete(`/bindings/${seg(vh.vhost)}/e/tasks/q/tasks.default/${seg(b.properties_key)}`);

    const logged: string[] = [];
    const logger = { info: (_o: object, msg: string) => void logged.push(msg), warn: (_o: object, msg: string) => void logged.push(`warn: ${msg}`) };
    const first = await ensureTopology(topology, vh.management, logger);
    expect(first.applied.done.map((s) => `${s.kind} ${s.object} ${s.name}`)).toEqual(['create policy warren.q.tasks.default', 'create binding tasks -> queue tasks.default [default]']);
    expect(logged).toEqual(['topology applied: 2 change(s) made on the broker']);

    const second = await ensureTopology(topology, vh.management);
    expect(second.applied.writes).toBe(0);
  });
});
