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

describe('ack batcher, in-order turns', () => {
  it('writes the same frames as the general walk, turn after turn, whatever the order', () => {
    // A model of what may be acked: every tag up to a multiple ack, and single acks, must be settled, each exactly once.
    for (let seed = 1; seed <= 200; seed++) {
      let x = seed;
      const rand = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n);
      const { channel, acks } = fakeChannel();
      const b = createAckBatcher(channel, { isOpen: () => true });
      const settledTags = new Set<number>();
      const ackedTags = new Set<number>();
      const covered = new Set<number>();
      let last = 0;
      let seen = 0;
      let next = 1;
      const pending: number[] = [];
      for (let turn = 0; turn < 20; turn++) {
        for (let i = rand(6); i > 0; i--) pending.push(next++);
        // Finish a few: usually the oldest first, sometimes any.
        for (let i = rand(pending.length + 1); i > 0 && pending.length > 0; i--) {
          const at = rand(4) === 0 ? rand(pending.length) : 0;
          const [t] = pending.splice(at, 1) as [number];
          settledTags.add(t);
          if (rand(10) === 0) b.settled(t);
          else {
            b.ack(t);
            ackedTags.add(t);
          }
        }
        b.flush();
        // Checked as written: nothing still pending is covered, nothing is acked twice.
        for (const [t, multiple] of acks.slice(seen)) {
          expect(settledTags.has(t)).toBe(true);
          if (multiple) {
            for (let u = last + 1; u <= t; u++) {
              expect(settledTags.has(u)).toBe(true);
              covered.add(u);
            }
            last = Math.max(last, t);
          } else {
            expect(covered.has(t)).toBe(false);
            covered.add(t);
          }
        }
        seen = acks.length;
      }
      // And every ack was written.
      for (const t of ackedTags) expect(covered.has(t)).toBe(true);
    }
  });

  it('one multiple ack for a turn of in-order acks, then picks up after a gap', () => {
    const { channel, acks } = fakeChannel();
    const b = createAckBatcher(channel, { isOpen: () => true });
    for (const t of [1, 2, 3]) b.ack(t);
    b.flush();
    for (const t of [4, 5]) b.ack(t);
    b.flush();
    b.ack(7);
    b.flush();
    b.ack(6);
    b.flush();
    expect(acks).toEqual([
      [3, true],
      [5, true],
      [7, false],
      [6, true],
    ]);
  });
});
