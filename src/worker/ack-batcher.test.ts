import type { Channel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createAckBatcher } from './ack-batcher.ts';

function fakeChannel() {
  const acks: [number, boolean][] = [];
  const channel = { ack: (m: { fields: { deliveryTag: number } }, multiple: boolean) => acks.push([m.fields.deliveryTag, multiple]) } as unknown as Channel;
  return { channel, acks };
}

describe('ack batcher', () => {
  it('covers a contiguous run of acks with one multiple ack', () => {
    const { channel, acks } = fakeChannel();
    const b = createAckBatcher(channel, { isOpen: () => true });
    for (const t of [3, 1, 2, 4]) b.ack(t);
    b.flush();
    expect(acks).toEqual([[4, true]]);
  });

  it('never covers a tag still in progress: acks past a gap one by one', () => {
    const { channel, acks } = fakeChannel();
    const b = createAckBatcher(channel, { isOpen: () => true });
    for (const t of [1, 2, 4, 5]) b.ack(t); // 3 is still running
    b.flush();
    expect(acks).toEqual([
      [2, true],
      [4, false],
      [5, false],
    ]);
    acks.length = 0;
    b.ack(3);
    b.ack(6);
    b.flush();
    // 3 closes the gap; 4 and 5 were acked already, so the multiple ack ends on 6 (acked now).
    expect(acks).toEqual([[6, true]]);
  });

  it('walks past nacked tags but never ends a multiple ack on one', () => {
    const { channel, acks } = fakeChannel();
    const b = createAckBatcher(channel, { isOpen: () => true });
    b.settled(2); // nacked
    b.ack(1);
    b.ack(3);
    b.flush();
    expect(acks).toEqual([[3, true]]);
    acks.length = 0;
    b.settled(4);
    b.ack(5);
    b.settled(6);
    b.flush();
    expect(acks).toEqual([[5, true]]);
  });

  it('writes nothing for a closed channel and flushes by itself at the end of the turn', async () => {
    const { channel, acks } = fakeChannel();
    let open = false;
    const b = createAckBatcher(channel, { isOpen: () => open });
    b.ack(1);
    b.flush();
    expect(acks).toEqual([]);
    open = true;
    const c = fakeChannel();
    const b2 = createAckBatcher(c.channel, { isOpen: () => open });
    b2.ack(1);
    expect(c.acks).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(c.acks).toEqual([[1, true]]);
  });
});
