import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installOwnHeadersPublish } from './own-headers-publish.ts';

const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('amqplib')), 'lib');
type Fields = Record<string, unknown>;
const channelModel = require(join(lib, 'channel_model.js')) as { Channel: { prototype: { publish: unknown } } };
const defs = require(join(lib, 'defs.js')) as { encodeProperties: (m: unknown, ch: number, size: number, f: Fields) => Buffer; BasicProperties: unknown };

const OPTIONS: Fields[] = [
  { persistent: true, mandatory: true, messageId: 'm1', contentType: 'application/json', headers: { 'x-warren-route': 'chat', traceparent: '00-abc-def-01' } },
  { headers: { n: 7, big: 2 ** 40, f: 1.5, b: true, s: 'é', buf: Buffer.from('xy'), nested: { a: [1, 'two'] }, gone: undefined }, priority: 3, expiration: 500 },
  { headers: { a: 1 }, CC: ['q1', 'q2'], BCC: 'q3' },
  { headers: {} },
  { persistent: false },
  {},
];

/** A channel that records what amqplib's publish hands to sendMessage. */
function recorder(): { publish: (e: string, k: string, c: Buffer, o?: Fields) => boolean; sent: Fields[] } {
  const sent: Fields[] = [];
  const ch = Object.create(channelModel.Channel.prototype) as { publish: (e: string, k: string, c: Buffer, o?: Fields) => boolean; sendMessage: (f: Fields) => boolean };
  ch.sendMessage = (f: Fields) => (sent.push(f), true);
  return { publish: (e, k, c, o) => ch.publish(e, k, c, o), sent };
}

describe('installOwnHeadersPublish', () => {
  it("encodes byte for byte what amqplib's own publish encodes, and leaves the caller's options as they were", () => {
    const before = recorder();
    for (const o of OPTIONS) before.publish('ex', 'rk', Buffer.from('x'), o);
    expect(installOwnHeadersPublish()).toBe(true);
    const after = recorder();
    OPTIONS.forEach((o, i) => {
      const snapshot = { ...o };
      after.publish('ex', 'rk', Buffer.from('x'), o);
      const encode = (f: Fields) => defs.encodeProperties(defs.BasicProperties, 1, 10, f);
      expect(encode(after.sent[i] as Fields).equals(encode(before.sent[i] as Fields))).toBe(true);
      expect(after.sent[i]).toMatchObject({ exchange: 'ex', routingKey: 'rk' });
      expect(o).toEqual(snapshot);
      expect(Object.keys(o)).toEqual(Object.keys(snapshot));
    });
    // The table is the caller's object itself, not an object inheriting from it.
    const headers = { k: 'v' };
    after.publish('ex', 'rk', Buffer.from('x'), { headers });
    expect(after.sent.at(-1)?.headers).toBe(headers);
    // Idempotent.
    const patched = channelModel.Channel.prototype.publish;
    expect(installOwnHeadersPublish()).toBe(true);
    expect(channelModel.Channel.prototype.publish).toBe(patched);
  });
});
