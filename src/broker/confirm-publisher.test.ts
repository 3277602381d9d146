import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { PublishBackpressureError, PublishTimeoutError } from '../errors/index.ts';
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

/** Each createConfirmChannel gives a new channel whose confirms the test releases; `close(i)` closes channel i as the broker would. */
function fakeChannels() {
  const channels: { emitter: EventEmitter; held: { body: string; cb: (err: unknown) => void }[] }[] = [];
  const model = {
    createConfirmChannel: async () => {
      const entry = { emitter: new EventEmitter(), held: [] as { body: string; cb: (err: unknown) => void }[] };
      const channel = Object.assign(entry.emitter, {
        publish: (_e: string, _k: string, content: Buffer, _p: unknown, cb: (err: unknown) => void) => {
          entry.held.push({ body: content.toString(), cb });
          return true;
        },
        close: async () => undefined,
      });
      channels.push(entry);
      return channel;
    },
  } as unknown as ChannelModel;
  const connection = {
    current: () => model,
    isConnected: () => true,
    onConnect: (setup: (c: ChannelModel) => void | Promise<void>) => {
      void setup(model);
      return () => undefined;
    },
  } as unknown as BrokerConnection;
  const close = (i: number) => {
    const ch = channels[i];
    if (!ch) throw new Error(`no channel ${i}`);
    ch.emitter.emit('error', new Error('Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid message"'));
    ch.emitter.emit('close');
    // amqplib fails the unconfirmed callbacks of a closed channel.
    for (const h of ch.held.splice(0)) h.cb(new Error('channel closed'));
  };
  return { connection, channels, close };
}

const settled = (p: Promise<void>) => p.then(() => 'ok', (e: unknown) => e);

describe('confirm publisher with one unconfirmed publish per channel', () => {
  it('a channel the broker closes fails only the publish on it; the others are confirmed', async () => {
    const { connection, channels, close } = fakeChannels();
    const publisher = createConfirmPublisher({ connection, channels: 2, maxInFlightPerChannel: 1, timeoutMs: 2_000 });
    await new Promise((r) => setTimeout(r, 10));
    const bodies = ['a', 'bad', 'c', 'd'];
    const results = bodies.map((body) => settled(publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from(body) })));
    // Two channels, one unconfirmed publish each: two are sent, two wait.
    expect(channels.map((c) => c.held.length)).toEqual([1, 1]);
    close(channels.findIndex((c) => c.held[0]?.body === 'bad'));
    // Confirm whatever reaches a channel (the closed one is replaced) until every publish settled.
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
      for (const c of channels) c.held.splice(0).forEach((h) => h.cb(null));
    }
    const outcome = Object.fromEntries((await Promise.all(results)).map((r, i) => [bodies[i], r === 'ok' ? 'ok' : (r as Error).name]));
    expect(outcome).toEqual({ a: 'ok', bad: 'PublishTimeoutError', c: 'ok', d: 'ok' });
    await publisher.close();
  });

  it('a publish waits for a free channel, and fails in time when none comes free', async () => {
    const { connection, channels } = fakeChannels();
    const publisher = createConfirmPublisher({ connection, channels: 1, maxInFlightPerChannel: 1, timeoutMs: 2_000 });
    await new Promise((r) => setTimeout(r, 10));
    const first = publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('1') });
    const second = publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('2') });
    const third = settled(publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('3'), timeoutMs: 100 }));
    await new Promise((r) => setTimeout(r, 20));
    expect(channels[0]?.held.map((h) => h.body)).toEqual(['1']);
    expect(publisher.stats()).toMatchObject({ waiting: 2, inFlight: 1 });
    channels[0]?.held.shift()?.cb(null);
    await first;
    await new Promise((r) => setTimeout(r, 5));
    // The freed slot went to the publish that waited longest.
    expect(channels[0]?.held.map((h) => h.body)).toEqual(['2']);
    const err = await third;
    expect(err).toBeInstanceOf(PublishTimeoutError);
    expect((err as Error).message).toMatch(/no publish channel came free in time/);
    channels[0]?.held.shift()?.cb(null);
    await second;
    await publisher.close();
  });

  it('refuses at once beyond the bounded wait list', async () => {
    const { connection } = fakeChannels();
    const publisher = createConfirmPublisher({ connection, channels: 1, maxInFlightPerChannel: 1, maxWaiting: 1, timeoutMs: 200 });
    await new Promise((r) => setTimeout(r, 10));
    const held = settled(publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('1') }));
    const waiting = settled(publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('2') }));
    const refused = await settled(publisher.publish({ exchange: 'x', routingKey: 'k', content: Buffer.from('3') }));
    expect(refused).toBeInstanceOf(PublishBackpressureError);
    expect((refused as Error).message).toMatch(/every publish channel is busy/);
    await Promise.all([held, waiting]);
    await publisher.close();
  });
});
