import { describe, expect, it } from 'vitest';
import { OrderKeyError } from '../errors/index.ts';
import { applyBlockEvent, parseBlockEvent, parseOrderKeySource, renderOrderKey, routeOrderings } from './ordering.ts';

describe('ordering keys', () => {
  const field = parseOrderKeySource('{input.customerId}');

  it('reads a field (dots for nested objects) or a header, scoped by the owner', () => {
    expect(renderOrderKey('r', field, { input: { customerId: 'c-1' } }, undefined, 'team-a')).toBe('team-a/c-1');
    expect(renderOrderKey('r', field, { input: { customerId: 42 } }, undefined, 'team-a')).toBe('team-a/42');
    expect(renderOrderKey('r', parseOrderKeySource('X-Customer-Id'), {}, 'c-9', 'team-b')).toBe('team-b/c-9');
  });

  it('answers a missing key with ORDER_KEY_MISSING naming the field', () => {
    const err = (() => {
      try {
        renderOrderKey('orders', field, { input: {} }, undefined, 'k');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(OrderKeyError);
    expect(err).toMatchObject({ code: 'ORDER_KEY_MISSING', field: 'input.customerId', details: [{ path: 'input.customerId', message: 'required: the ordering key of this route' }] });
  });

  it('refuses keys that are not a string or a number', () => {
    for (const bad of [{ a: 1 }, [1], true, null, Number.NaN, 'x'.repeat(201)]) {
      expect(() => renderOrderKey('orders', field, { input: { customerId: bad } }, undefined, 'k')).toThrow(expect.objectContaining({ code: 'ORDER_KEY_INVALID' }));
    }
    // Inherited members never fill a key.
    expect(() => renderOrderKey('orders', parseOrderKeySource('{constructor}'), {}, undefined, 'k')).toThrow(expect.objectContaining({ code: 'ORDER_KEY_MISSING' }));
  });

  it('finds the routes that feed an ordered queue', () => {
    const m = routeOrderings({
      routes: { a: { exchange: 'jobs', routingKey: 'a', schema: 'task', publishTimeout: 1, defaults: {} }, b: { exchange: 'other', routingKey: '', schema: 'task', publishTimeout: 1, defaults: {} } },
      queues: { q: { type: 'quorum', durable: true, autoDelete: false, ordering: { key: '{id}', partitions: 2 } } },
      bindings: [{ source: 'jobs', queue: 'q', routingKey: 'a' }],
    });
    expect([...m.keys()]).toEqual(['a']);
    expect(m.get('a')).toEqual({ queue: 'q', partitions: 2, source: { kind: 'field', name: 'id' } });
  });

  it('only routes whose keys reach the ordered queue are ordered (direct and topic bindings)', () => {
    const route = (exchange: string, routingKey: string) => ({ exchange, routingKey, schema: 'task', publishTimeout: 1, defaults: {} });
    const m = routeOrderings({
      exchanges: { d: { type: 'direct', durable: true, autoDelete: false, internal: false }, t: { type: 'topic', durable: true, autoDelete: false, internal: false } },
      routes: { same: route('d', 'ordered'), other: route('d', 'default'), topicHit: route('t', 'orders.{region}.new'), topicMiss: route('t', 'chat.{x}') },
      queues: { q: { type: 'quorum', durable: true, autoDelete: false, ordering: { key: '{id}', partitions: 2 } } },
      bindings: [
        { source: 'd', queue: 'q', routingKey: 'ordered' },
        { source: 't', queue: 'q', routingKey: 'orders.#' },
      ],
    });
    expect([...m.keys()].sort()).toEqual(['same', 'topicHit']);
  });
});

describe('block events', () => {
  it('a release clears only the block it names', () => {
    const blocked = new Map<string, string>();
    const ev = (o: Record<string, unknown>) => parseBlockEvent(Buffer.from(JSON.stringify({ at: 't', ...o })));
    applyBlockEvent(blocked, ev({ type: 'block', key: 'k', by: 'j1' })!);
    applyBlockEvent(blocked, ev({ type: 'block', key: 'k', by: 'j2' })!);
    applyBlockEvent(blocked, ev({ type: 'release', key: 'k', by: 'j1' })!);
    expect(blocked.get('k')).toBe('j2');
    applyBlockEvent(blocked, ev({ type: 'release', key: 'k', by: 'j2', why: 'purged' })!);
    expect(blocked.size).toBe(0);
    expect(parseBlockEvent(Buffer.from('{"type":"hello","id":"x"}'))).toBeUndefined();
    expect(parseBlockEvent(Buffer.from('not json'))).toBeUndefined();
  });
});
