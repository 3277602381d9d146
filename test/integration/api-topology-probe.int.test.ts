import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopologyProbe } from '../../src/api/topology-probe.ts';
import { createBrokerConnection, type BrokerConnection } from '../../src/broker/broker-connection.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { TEST_AMQP_BASE } from './helpers/broker-env.ts';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

function capturingLogger() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const destination = { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: 'warn', destination }), lines };
}

/**
 * The API's readiness probe against the real broker: a missing exchange is "run warren topology apply";
 * the connection dropping in the middle of a check (what a broker restart does to it) is not.
 */
describe('API topology probe (real broker)', () => {
  let vh: TestVhost;
  let proxy: TcpProxy;
  let connection: BrokerConnection;

  beforeAll(async () => {
    vh = await createTestVhost('topology-probe');
    const admin = await amqplib.connect(vh.amqpUrl);
    const ch = await admin.createChannel();
    await ch.assertExchange('present', 'topic', { durable: true });
    await ch.assertQueue('present.q', { durable: true });
    await admin.close();
    const target = new URL(TEST_AMQP_BASE);
    proxy = await createTcpProxy(Number(target.port || 5672), target.hostname);
    connection = createBrokerConnection({ urls: [`amqp://${target.username}:${target.password}@127.0.0.1:${proxy.port}`], vhost: vh.vhost, name: `probe-test-${process.pid}` });
    await connection.waitForConnection(10_000);
  });

  afterAll(async () => {
    await connection?.close();
    await proxy?.close();
    await vh?.cleanup();
  });

  it('an exchange the broker does not have: not applied, "run warren topology apply"', async () => {
    const { logger, lines } = capturingLogger();
    const probe = createTopologyProbe({ connection, exchanges: ['present', 'absent'], queues: ['present.q'], logger });
    expect(await probe.check()).toBe(false);
    probe.close();
    expect(lines.map((l) => [l.msg, l.missing])).toEqual([['topology not applied yet: run warren topology apply', "exchange 'absent'"]]);
  });

  it('the connection dropping between opening the check channel and the answer: "broker unreachable, retrying", the last answer stands', async () => {
    const { logger, lines } = capturingLogger();
    const probe = createTopologyProbe({ connection, exchanges: ['present'], queues: ['present.q'], logger });
    expect(await probe.check()).toBe(true);
    // Same connection, but the network goes away right after the probe's channel is open, before its
    // passive declares are answered (the order is fixed here; the broker and the socket are real).
    const live = connection.current() as amqplib.ChannelModel;
    const dropping: BrokerConnection = {
      ...connection,
      current: () =>
        ({
          createChannel: async () => {
            const ch = await live.createChannel();
            await proxy.cut();
            return ch;
          },
        }) as unknown as amqplib.ChannelModel,
    };
    const racing = createTopologyProbe({ connection: dropping, exchanges: ['present'], queues: ['present.q'], logger });
    expect(await racing.check()).toBe(false); // never applied before: the last answer is the initial "not yet"
    racing.close();
    probe.close();
    expect(lines.map((l) => l.msg)).toEqual(['broker unreachable, retrying the topology check']);
    await proxy.restore();
  });
});
