import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrokerConnection, type BrokerConnection } from '../../src/broker/broker-connection.ts';
import { createConfirmPublisher, type ConfirmPublisher } from '../../src/broker/confirm-publisher.ts';
import { PublishRejectedError, PublishTimeoutError, UnroutableError } from '../../src/errors/index.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

describe('confirm publisher against the real broker', () => {
  let vh: TestVhost;
  let conn: BrokerConnection;
  let publisher: ConfirmPublisher;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  beforeAll(async () => {
    vh = await createTestVhost('publisher');
    admin = await amqplib.connect(vh.amqpUrl);
    ch = await admin.createChannel();
    await ch.assertExchange('jobs', 'direct', { durable: true });
    await ch.assertQueue('work', { durable: true });
    await ch.bindQueue('work', 'jobs', 'work');
    await ch.assertQueue('full', { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue('full', 'jobs', 'full');
    conn = createBrokerConnection({ urls: [vh.amqpUrl] });
    await conn.waitForConnection(5_000);
    publisher = createConfirmPublisher({ connection: conn, timeoutMs: 3_000 });
  });

  afterAll(async () => {
    await publisher?.close();
    await conn?.close();
    await admin?.close();
    await vh?.cleanup();
  });

  it('resolves only once the message is in the queue', async () => {
    await publisher.publish({ exchange: 'jobs', routingKey: 'work', content: Buffer.from('{"a":1}'), properties: { messageId: 'm-1' } });
    const msg = await ch.get('work', { noAck: true });
    expect(msg && msg.content.toString()).toBe('{"a":1}');
    expect(msg && msg.properties.messageId).toBe('m-1');
    expect(msg && msg.properties.deliveryMode).toBe(2);
  });

  it('rejects an unroutable message with UnroutableError naming exchange and key', async () => {
    const err = await publisher.publish({ exchange: 'jobs', routingKey: 'nowhere', content: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnroutableError);
    expect((err as UnroutableError).message).toBe("no queue is bound to exchange 'jobs' for routing key 'nowhere'");
  });

  it('rejects when the broker nacks (full queue with reject-publish)', async () => {
    const err = await publisher.publish({ exchange: 'jobs', routingKey: 'full', content: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishRejectedError);
    expect((await ch.checkQueue('full')).messageCount).toBe(0);
  });

  it('reports a missing exchange clearly and keeps publishing on a fresh channel', async () => {
    const err = await publisher.publish({ exchange: 'no-such-exchange', routingKey: 'x', content: Buffer.from('x') }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('EXCHANGE_NOT_FOUND');
    await publisher.publish({ exchange: 'jobs', routingKey: 'work', content: Buffer.from('after') });
    const msg = await ch.get('work', { noAck: true });
    expect(msg && msg.content.toString()).toBe('after');
  });

  it('times out instead of buffering forever when the broker is unreachable', async () => {
    const dead = createBrokerConnection({ urls: ['amqp://guest:guest@127.0.0.1:1'], reconnectSeconds: 1 });
    const p = createConfirmPublisher({ connection: dead, timeoutMs: 300 });
    const started = Date.now();
    const err = await p.publish({ exchange: 'jobs', routingKey: 'work', content: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(p.stats().waiting).toBe(0);
    await p.close();
    await dead.close();
  });
});
