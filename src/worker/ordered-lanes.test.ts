import { describe, expect, it } from 'vitest';
import { ORDER_HEADERS } from '../jobs/headers.ts';
import type { BlockBook } from './block-book.ts';
import type { ChannelSession, Delivery } from './delivery.ts';
import { RELEASE_END_TYPE } from '../jobs/ordering.ts';
import { createOrderedLanes } from './ordered-lanes.ts';

// Narrow fakes: a delivery is its message id, key header and session; the book is a map.
const sessionA = { open: true } as ChannelSession;
const sessionB = { open: true } as ChannelSession;
let tag = 0;
function delivery(id: string, key: string | undefined, session = sessionA, extra: { blockedBy?: string; type?: string } = {}): Delivery {
  const headers: Record<string, string> = key === undefined ? {} : { [ORDER_HEADERS.key]: key };
  if (extra.blockedBy !== undefined) headers[ORDER_HEADERS.blockedBy] = extra.blockedBy;
  return { msg: { properties: { messageId: id, headers, type: extra.type }, fields: { deliveryTag: ++tag } }, session, settled: false, lost: undefined } as unknown as Delivery;
}

function setup(blocked: Record<string, string> = {}) {
  const book = { blockedBy: (k: string) => blocked[k], releasing: () => false } as unknown as BlockBook;
  // `blocked` is read live, so a test can release a key by deleting it.
  const started: string[] = [];
  const diverted: [string, string][] = [];
  const lanes = createOrderedLanes({
    book,
    divert: async (d, by) => {
      diverted.push([d.msg.properties.messageId as string, by]);
    },
    settleMarker: (d) => {
      started.push(`marker:${d.msg.properties.messageId as string}`);
      queueMicrotask(() => lanes.done(d));
    },
  });
  const admit = (d: Delivery) => lanes.admit(d, () => started.push(d.msg.properties.messageId as string));
  return { lanes, started, diverted, admit };
}

describe('ordered lanes', () => {
  it('starts one job per key at a time, the next only when the previous is done; other keys at once', () => {
    const { lanes, started, admit } = setup();
    const a1 = delivery('a1', 't/a');
    const a2 = delivery('a2', 't/a');
    const b1 = delivery('b1', 't/b');
    const a3 = delivery('a3', 't/a');
    for (const d of [a1, a2, b1, a3]) admit(d);
    expect(started).toEqual(['a1', 'b1']);
    expect(lanes.held()).toBe(2);
    lanes.done(a2); // not started: changes nothing
    expect(started).toEqual(['a1', 'b1']);
    lanes.done(a1);
    expect(started).toEqual(['a1', 'b1', 'a2']);
    lanes.done(a2);
    expect(started).toEqual(['a1', 'b1', 'a2', 'a3']);
    expect(lanes.held()).toBe(0);
  });

  it('a message without a key is a key of its own', () => {
    const { started, admit } = setup();
    admit(delivery('x1', undefined));
    admit(delivery('x2', undefined));
    expect(started).toEqual(['x1', 'x2']);
  });

  it('moves a blocked key\'s jobs aside in order, but runs the blocking job itself', () => {
    const { lanes, started, diverted, admit } = setup({ 't/a': 'a0' });
    const a1 = delivery('a1', 't/a');
    const a0 = delivery('a0', 't/a');
    admit(a1);
    admit(a0);
    expect(diverted).toEqual([['a1', 'a0']]);
    expect(started).toEqual([]);
    lanes.done(a1);
    expect(started).toEqual(['a0']);
  });

  it('forgets the deliveries of a closed channel and lets the new channel\'s ones go', () => {
    const { lanes, started, admit } = setup();
    const old1 = delivery('a1', 't/a', sessionA);
    const old2 = delivery('a2', 't/a', sessionA);
    admit(old1);
    admit(old2);
    lanes.dropSession(sessionA);
    expect(lanes.held()).toBe(0);
    const again = delivery('a1', 't/a', sessionB);
    admit(again);
    expect(started).toEqual(['a1', 'a1']);
    // The old run finishing late does not free the new one's lane.
    lanes.done(old1);
    admit(delivery('a2', 't/a', sessionB));
    expect(started).toEqual(['a1', 'a1']);
  });

  it('while a requeued blocking job\'s batch passes, new jobs of the key wait for the end marker', async () => {
    const blocked: Record<string, string> = { 't/a': 'a1' };
    const { lanes, started, admit } = setup(blocked);
    const a1 = delivery('a1', 't/a');
    const a3 = delivery('a3', 't/a');
    const a2 = delivery('a2', 't/a', sessionA, { blockedBy: 'a1' });
    const end = delivery('end', 't/a', sessionA, { blockedBy: 'a1', type: RELEASE_END_TYPE });
    for (const d of [a1, a3, a2, end]) admit(d);
    expect(started).toEqual(['a1']);
    delete blocked['t/a']; // a1 succeeded: the key is released
    lanes.done(a1);
    expect(started).toEqual(['a1', 'a2']);
    lanes.done(a2);
    await Promise.resolve();
    expect(started).toEqual(['a1', 'a2', 'marker:end', 'a3']);
  });

  it('hands back the waiting deliveries in delivery order at shutdown', () => {
    const { lanes, admit } = setup();
    const ds = [delivery('a1', 't/a'), delivery('b1', 't/b'), delivery('a2', 't/a'), delivery('b2', 't/b'), delivery('a3', 't/a')];
    for (const d of ds) admit(d);
    expect(lanes.takeHeld().map((d) => d.msg.properties.messageId)).toEqual(['a2', 'b2', 'a3']);
  });
});
