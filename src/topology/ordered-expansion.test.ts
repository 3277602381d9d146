import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { ORDER_HEADERS } from '../jobs/headers.ts';
import type { ActualState } from './actual-state.ts';
import { desiredState, MANAGED_ARG, type DesiredState } from './desired-state.ts';
import { planTopology } from './plan-topology.ts';

function ordered(partitions: number) {
  return topologySchema.parse({
    version: 1,
    exchanges: { jobs: { type: 'direct' }, dlx: { type: 'direct' } },
    queues: {
      orders: { type: 'quorum', deadLetter: { exchange: 'dlx', routingKey: 'dead' }, deliveryLimit: 5, retry: 'r', ordering: { key: '{customerId}', partitions } },
      dead: { type: 'quorum' },
    },
    bindings: [
      { source: 'jobs', queue: 'orders', routingKey: 'orders' },
      { source: 'dlx', queue: 'dead', routingKey: 'dead' },
    ],
    retryPolicies: { r: { attempts: 3, backoff: ['1s'] } },
  });
}

/** The broker state after applying `d` exactly. */
function applied(d: DesiredState): ActualState {
  return {
    vhost: d.vhost,
    vhostExists: true,
    exchanges: d.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
    queues: d.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments, messages: 3 })),
    bindings: d.bindings.map((b, i) => ({ ...b, propertiesKey: `~${i}` })),
    policies: d.policies.map((p) => ({ name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: p.definition })),
  };
}

describe('ordered queue expansion', () => {
  it('becomes a consistent-hash exchange, single-active-consumer partitions with the queue policy, and a blocks stream; no wait queues', () => {
    const d = desiredState(ordered(3));
    expect(d.exchanges.find((e) => e.name === 'orders.hash')).toEqual({
      name: 'orders.hash',
      type: 'x-consistent-hash',
      durable: true,
      autoDelete: false,
      internal: true,
      arguments: { 'hash-header': ORDER_HEADERS.key, [MANAGED_ARG]: true },
    });
    const names = d.queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['orders.p0', 'orders.p1', 'orders.p2', 'orders.blocks']));
    expect(names).not.toContain('orders');
    expect(names.some((n) => n.includes('wait'))).toBe(false);
    const p1 = d.queues.find((q) => q.name === 'orders.p1');
    expect(p1).toMatchObject({ type: 'quorum', role: 'ordered-partition', orderedQueue: 'orders', arguments: { 'x-single-active-consumer': true, 'x-queue-type': 'quorum' } });
    expect(d.queues.find((q) => q.name === 'orders.blocks')).toMatchObject({ type: 'stream', role: 'order-blocks' });
    expect(d.policies.find((p) => p.name === 'warren.q.orders.p2')?.definition).toEqual({ 'dead-letter-exchange': 'dlx', 'dead-letter-routing-key': 'dead', 'delivery-limit': 5 });
    // The route's binding goes to the hash exchange, which binds each partition with weight 1.
    expect(d.bindings.filter((b) => b.source === 'jobs')).toEqual([{ source: 'jobs', destination: 'orders.hash', destinationType: 'exchange', routingKey: 'orders', arguments: { [MANAGED_ARG]: true } }]);
    expect(d.bindings.filter((b) => b.source === 'orders.hash').map((b) => [b.destination, b.routingKey])).toEqual([
      ['orders.p0', '1'],
      ['orders.p1', '1'],
      ['orders.p2', '1'],
    ]);
  });

  it('plans nothing once applied, and refuses a change of partition count with a migration message', () => {
    const now = desiredState(ordered(3));
    expect(planTopology(now, applied(now)).steps).toEqual([]);
    const plan = planTopology(desiredState(ordered(5)), applied(now));
    const refused = plan.steps.filter((s) => s.kind === 'cannot-change');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ object: 'queue', name: 'orders', changes: [{ field: 'ordering.partitions', actual: 3, desired: 5 }] });
    expect((refused[0] as { message: string }).message).toContain('Re-partitioning moves keys to other partitions');
    expect((refused[0] as { message: string }).message).toContain('(9 now)');
  });
});
