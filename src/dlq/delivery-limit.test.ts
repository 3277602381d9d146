import { describe, expect, it } from 'vitest';
import { countedDeliveryLimit, deliveryCountWarning, deliveryLimitWarning, tallyDeliveryCount, type DeliveryCountTally } from './delivery-limit.ts';

const quorum = (o: { argument?: unknown; policy?: unknown; declared?: number; brokerVersion?: string }) => ({ type: 'quorum', argument: o.argument, policy: o.policy, declared: o.declared, brokerVersion: o.brokerVersion ?? '3.10.8' });

describe('countedDeliveryLimit', () => {
  it('is the limit reads count against: quorum queues before RabbitMQ 4.3 only', () => {
    expect(countedDeliveryLimit(quorum({ policy: 1_000_000 }))).toBe(1_000_000);
    expect(countedDeliveryLimit({ ...quorum({ policy: 5 }), type: 'classic' })).toBeUndefined();
    expect(countedDeliveryLimit(quorum({ policy: 5, brokerVersion: '4.3.0' }))).toBeUndefined();
    expect(countedDeliveryLimit(quorum({ policy: 5, brokerVersion: '4.2.1' }))).toBe(5);
  });

  it('unset: none on 3.x, 20 on 4.0-4.2; -1 is none; with argument and policy the lower wins; topology.yaml stands in for a policy not shown yet', () => {
    expect(countedDeliveryLimit(quorum({}))).toBeUndefined();
    expect(countedDeliveryLimit(quorum({ brokerVersion: '4.1.0' }))).toBe(20);
    expect(countedDeliveryLimit(quorum({ policy: -1, brokerVersion: '4.1.0' }))).toBeUndefined();
    expect(countedDeliveryLimit(quorum({ argument: 50, policy: 7 }))).toBe(7);
    expect(countedDeliveryLimit(quorum({ argument: 7, policy: 50 }))).toBe(7);
    expect(countedDeliveryLimit(quorum({ declared: 1_000_000 }))).toBe(1_000_000);
    expect(countedDeliveryLimit(quorum({ policy: 9, declared: 1_000_000 }))).toBe(9);
  });
});

describe('delivery-limit warnings', () => {
  it('before a run: only a limit within 100 runs of a fresh message', () => {
    expect(deliveryLimitWarning('llm.dead', 1_000_000)).toBeUndefined();
    expect(deliveryLimitWarning('llm.dead', 101)).toBeUndefined();
    expect(deliveryLimitWarning('llm.dead', undefined)).toBeUndefined();
    expect(deliveryLimitWarning('llm.dead', 20)).toMatch(/^quorum queue 'llm\.dead' has a delivery limit of 20: .* dropped after about 20 runs/);
  });

  it('after a read: only messages returned often enough to be within 100 runs, and not twice', () => {
    const tally: DeliveryCountTally = { max: 0, near: 0 };
    tallyDeliveryCount(tally, undefined, 1000);
    tallyDeliveryCount(tally, { 'x-delivery-count': 899 }, 1000);
    expect(deliveryCountWarning('d', 1000, tally)).toBeUndefined();
    tallyDeliveryCount(tally, { 'x-delivery-count': 900 }, 1000);
    tallyDeliveryCount(tally, { 'x-delivery-count': 950 }, 1000);
    expect(tally).toEqual({ max: 950, near: 2 });
    expect(deliveryCountWarning('d', 1000, tally)).toBe(
      "2 messages in 'd' were already returned up to 950 times: the queue's delivery limit of 1000 drops them after about 50 more list/requeue runs; raise deliveryLimit on 'd' (or -1 on RabbitMQ 4.x)",
    );
    // The warning before the run already covers a low limit.
    expect(deliveryCountWarning('d', 20, { max: 3, near: 1 })).toBeUndefined();
    expect(deliveryCountWarning('d', undefined, { max: 3, near: 1 })).toBeUndefined();
  });
});
