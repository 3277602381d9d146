import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { PublishTimeoutError } from '../errors/index.ts';
import type { BrokerConnection } from './broker-connection.ts';
import { createConfirmPublisher } from './confirm-publisher.ts';

/** A confirm channel that holds every confirm until the test releases it. */
function fakeConnection() {
  const held: ((err: unknown) => void)[] = [];
  const channel = Object.assign(new EventEmitter(), {
    publish: (_e: string, _k: string, _c: Buffer, _p: unknown, cb: (err: unknown) => void) => {
      held.push(cb);
      return true;
    },
    close: async () => undefined,
  });
  const model = { createConfirmChannel: async () => channel } as unknown as ChannelModel;
  const connection = {
    current: () => model,
    isConnected: () => true,
    onConnect: (setup: (c: ChannelModel) => void | Promise<void>) => {
      void setup(model);
      return () => undefined;
    },
  } as unknown as BrokerConnection;
  return { connection, held };
}

describe('confirm publisher deadlines (one sweep timer)', () => {
  it('fails each unconfirmed publish at its own deadline and still resolves the confirmed ones', async () => {
    const { connection, held } = fakeConnection();
    const publisher = createConfirmPublisher({ connection, channels: 1, timeoutMs: 1_000 });
    await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    const slow = publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('a'), timeoutMs: 300 }).then(
      () => 'ok',
      (e: unknown) => e,
    );
    // Published later with an earlier deadline: the sweep must re-arm for it.
    const fast = publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('b'), timeoutMs: 80 }).then(
      () => 'ok',
      (e: unknown) => e,
    );
    const confirmed = publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('c'), timeoutMs: 80 });
    expect(held).toHaveLength(3);
    held[2]?.(null);
    await expect(confirmed).resolves.toBeUndefined();

    const fastErr = await fast;
    const fastAt = Date.now() - started;
    expect(fastErr).toBeInstanceOf(PublishTimeoutError);
    expect(fastAt).toBeGreaterThanOrEqual(70);
    expect(fastAt).toBeLessThan(280);
    const slowErr = await slow;
    expect(slowErr).toBeInstanceOf(PublishTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // A confirm arriving after the deadline can't settle the publish again.
    held[0]?.(null);
    expect(publisher.stats()).toMatchObject({ timedOut: 2, inFlight: 0 });
    await publisher.close();
  });
});
