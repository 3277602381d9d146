import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import { WarrenError } from '../../src/errors/index.ts';
import { applyPlan, ensureTopology, readActualState, TopologyDriftError, type CannotChangeStep, type UpdateStep } from '../../src/topology/index.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { applyOn, planOn, queueView, waitFor, yamlTopology } from './helpers/topology.ts';

const EXCHANGES = `
exchanges:
  dlx.a: { type: fanout }
  dlx.b: { type: fanout }
  jobs: { type: direct }
`;

function orders(opts: { ttl: string; dlx: string; type?: string; extra?: string; bare?: boolean }): string {
  const settings = opts.bare === true ? '' : `    messageTtl: ${opts.ttl}\n    deadLetter: { exchange: ${opts.dlx} }\n`;
  return `${EXCHANGES}
queues:
  orders:
    type: ${opts.type ?? 'classic'}
${settings}  orders.q:
    type: quorum
    deadLetter: { exchange: ${opts.dlx} }
    deliveryLimit: ${opts.ttl === '1h' ? 5 : 7}
  dead.a: {}
  dead.b: {}
${opts.extra ?? ''}
bindings:
  - { source: dlx.a, queue: dead.a }
  - { source: dlx.b, queue: dead.b }
  - { source: jobs, queue: orders, routingKey: orders }
`;
}

describe('topology drift, in-place updates and prune against the real broker', () => {
  let vh: TestVhost;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;

  async function publish(queue: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) ch.publish('', queue, Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
  }

  beforeAll(async () => {
    vh = await createTestVhost('topo-drift');
    conn = await amqplib.connect(vh.amqpUrl);
    ch = await conn.createConfirmChannel();
  });

  afterAll(async () => {
    await conn?.close();
    await vh?.cleanup();
  });

  it('changing a DLX and a TTL updates the policy in place and keeps the messages', async () => {
    await applyOn(yamlTopology(orders({ ttl: '1h', dlx: 'dlx.a' }), vh), vh.management);
    await publish('orders', 5);
    await publish('orders.q', 3);

    const changed = yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b' }), vh);
    const plan = await planOn(changed, vh.management);
    expect(plan.steps.map((s) => `${s.kind} ${s.name}`)).toEqual(['update warren.q.orders', 'update warren.q.orders.q']);
    expect((plan.steps[0] as UpdateStep).changes).toEqual([
      { field: 'dead-letter-exchange', actual: 'dlx.a', desired: 'dlx.b' },
      { field: 'message-ttl', actual: 3_600_000, desired: 7_200_000 },
    ]);
    const result = await applyPlan(vh.management, plan);
    expect(result.writes).toBe(2);

    const ordersView = await waitFor('orders to run under the new policy', async () => {
      const q = await queueView(vh, 'orders');
      const def = q.effective_policy_definition as Record<string, unknown> | undefined;
      return def?.['message-ttl'] === 7_200_000 ? q : undefined;
    });
    expect(ordersView.effective_policy_definition).toEqual({ 'dead-letter-exchange': 'dlx.b', 'message-ttl': 7_200_000 });
    await waitFor('orders.q to run under the new policy', async () => {
      const def = (await queueView(vh, 'orders.q')).effective_policy_definition as Record<string, unknown> | undefined;
      return def?.['delivery-limit'] === 7 && def['dead-letter-exchange'] === 'dlx.b' ? def : undefined;
    });
    // Same queues, same messages: nothing was deleted or redeclared.
    expect((await ch.checkQueue('orders')).messageCount).toBe(5);
    expect((await ch.checkQueue('orders.q')).messageCount).toBe(3);

    // And the new DLX is the one the broker uses: a rejected message lands in dead.b.
    const msg = await ch.get('orders');
    if (msg === false) throw new Error('orders is empty');
    ch.nack(msg, false, false);
    const dead = await waitFor('the rejected message in dead.b', async () => {
      const m = await ch.get('dead.b', { noAck: true });
      return m === false ? undefined : m;
    });
    expect(dead.content.toString()).toBe('m0');
    expect((await ch.checkQueue('dead.a')).messageCount).toBe(0);
    expect((await planOn(changed, vh.management)).steps).toEqual([]);
  });

  it('refuses a queue type change with a clear message and applies nothing else', async () => {
    const before = await readActualState(vh.management, vh.vhost);
    // The same file also adds an exchange: it must not be created while a refusal stands.
    const changed = yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b', type: 'quorum' }).replace('jobs: { type: direct }', 'jobs: { type: direct }\n  brand.new: { type: topic }'), vh);
    const plan = await planOn(changed, vh.management);
    const blocked = plan.steps.filter((s): s is CannotChangeStep => s.kind === 'cannot-change');
    expect(blocked.map((s) => s.message)).toEqual([
      `queue 'orders' is classic on the broker but quorum in topology.yaml; RabbitMQ can't change a queue's type. Drain it and delete it (rabbitmqctl delete_queue -p ${vh.vhost} orders / the UI), or rename the queue in topology.yaml, then apply again.`,
    ]);

    const err = await applyPlan(vh.management, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopologyDriftError);
    expect((err as WarrenError).code).toBe('TOPOLOGY_DRIFT');
    expect((err as Error).message).toBe(
      `topology can't be applied to vhost '${vh.vhost}': 1 object differs in a way RabbitMQ can't change in place. Nothing was applied.\n  ! ${blocked[0]?.message}`,
    );
    // Boot does the same: a typed refusal, no partial apply.
    await expect(ensureTopology(changed, vh.management)).rejects.toMatchObject({ code: 'TOPOLOGY_DRIFT' });

    const after = await readActualState(vh.management, vh.vhost);
    expect(after.exchanges.map((e) => e.name)).toEqual(before.exchanges.map((e) => e.name));
    expect(after.exchanges.some((e) => e.name === 'brand.new')).toBe(false);
    expect(after.queues.find((q) => q.name === 'orders')?.type).toBe('classic');
    expect((await ch.checkQueue('orders')).messageCount).toBe(4);
  });

  it('prune removes a dropped binding, and only with --prune', async () => {
    const withExtra = yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b' }).replace('bindings:', 'bindings:\n  - { source: jobs, queue: orders, routingKey: rush }'), vh);
    await applyOn(withExtra, vh.management);
    // A binding warren didn't create, on the same exchange: never pruned.
    await ch.bindQueue('dead.a', 'jobs', 'theirs');

    const without = yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b' }), vh);
    const plan = await planOn(without, vh.management);
    expect(plan.steps.map((s) => `${s.kind} ${s.object} ${s.name}`)).toEqual(['extra binding jobs -> queue orders [rush]']);

    const kept = await applyPlan(vh.management, plan);
    expect(kept.writes).toBe(0);
    expect(kept.kept).toHaveLength(1);
    expect(await vh.management.get<unknown[]>(`/bindings/${seg(vh.vhost)}/e/jobs/q/orders`)).toHaveLength(2);

    const pruned = await applyPlan(vh.management, await planOn(without, vh.management), { prune: true });
    expect(pruned.done.map((s) => `${s.kind} ${s.name}`)).toEqual(['extra jobs -> queue orders [rush]']);
    const left = await vh.management.get<{ routing_key: string }[]>(`/bindings/${seg(vh.vhost)}/e/jobs/q/orders`);
    expect(left.map((b) => b.routing_key)).toEqual(['orders']);
    expect(await vh.management.get<unknown[]>(`/bindings/${seg(vh.vhost)}/e/jobs/q/dead.a`)).toHaveLength(1);
    expect((await planOn(without, vh.management)).steps).toEqual([]);
  });

  it('removing every setting of a queue deletes its policy; prune-queues deletes dropped warren queues only', async () => {
    await applyOn(yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b', extra: '  old.stuff: { messageTtl: 1m }' }), vh), vh.management);
    await ch.assertQueue('their.queue', { durable: true });

    // orders loses all its settings: its policy goes without --prune (it would keep applying them otherwise).
    const trimmed = yamlTopology(orders({ ttl: '2h', dlx: 'dlx.b', bare: true, extra: '  dead.c: {}' }), vh);
    const plan = await planOn(trimmed, vh.management);
    expect(plan.steps.map((s) => `${s.kind} ${s.object} ${s.name}`)).toEqual(['update policy warren.q.orders', 'create queue dead.c', 'extra policy warren.q.old.stuff', 'extra queue old.stuff']);
    const result = await applyPlan(vh.management, plan, { pruneQueues: true });
    expect(result.writes).toBe(4);
    const actual = await readActualState(vh.management, vh.vhost);
    expect(actual.queues.map((q) => q.name).sort()).toEqual(['dead.a', 'dead.b', 'dead.c', 'orders', 'orders.q', 'their.queue', 'warren.events.checkpoints', 'warren.events.log']);
    expect(actual.policies.map((p) => p.name).sort()).toEqual(['warren.q.orders.q', 'warren.q.warren.events.checkpoints', 'warren.q.warren.events.log']);
    expect((await planOn(trimmed, vh.management)).steps).toEqual([]);
  });
});
