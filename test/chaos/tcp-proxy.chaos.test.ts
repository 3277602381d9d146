import net from 'node:net';
import { once } from 'node:events';
import amqplib from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_AMQP_BASE } from '../integration/helpers/broker-env.ts';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';

function connectClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves on 'close' (events.once would reject on the 'error' that precedes it). */
function closeOf(emitter: { once(event: 'close', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => emitter.once('close', () => resolve()));
}

function readSome(socket: net.Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('data', onData);
      resolve(undefined);
    }, timeoutMs);
    const onData = (d: Buffer) => {
      clearTimeout(timer);
      resolve(d.toString());
    };
    socket.once('data', onData);
  });
}

describe('tcp proxy (echo server)', () => {
  let echo: net.Server;
  let echoPort: number;
  let proxy: TcpProxy;
  const echoSockets = new Set<net.Socket>();

  beforeAll(async () => {
    echo = net.createServer((s) => {
      echoSockets.add(s);
      s.on('close', () => echoSockets.delete(s));
      s.on('error', () => undefined);
      s.pipe(s);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  afterEach(async () => proxy?.close());
  afterAll(async () => {
    for (const s of echoSockets) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('forwards both ways', async () => {
    proxy = await createTcpProxy({ targetPort: echoPort });
    const c = await connectClient(proxy.port);
    c.write('hello');
    expect(await readSome(c, 2000)).toBe('hello');
    expect(proxy.openConnections()).toBe(1);
    c.destroy();
  });

  it('cut() destroys open connections on both sides and resets new ones until restore()', async () => {
    proxy = await createTcpProxy({ targetPort: echoPort });
    const c = await connectClient(proxy.port);
    c.on('error', () => undefined);
    c.write('x');
    await readSome(c, 2000);
    const closed = closeOf(c);
    proxy.cut();
    await closed;
    await expect.poll(() => echoSockets.size).toBe(0);

    const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');

    proxy.restore();
    const again = await connectClient(proxy.port);
    again.write('back');
    expect(await readSome(again, 2000)).toBe('back');
    again.destroy();
  });

  it('stall() holds bytes without closing; restore() delivers them', async () => {
    proxy = await createTcpProxy({ targetPort: echoPort });
    const c = await connectClient(proxy.port);
    c.write('a');
    expect(await readSome(c, 2000)).toBe('a');
    proxy.stall();
    c.write('held');
    expect(await readSome(c, 500)).toBeUndefined();
    expect(c.destroyed).toBe(false);
    // A new connection during the stall is accepted but goes nowhere.
    const late = await connectClient(proxy.port);
    late.write('late');
    expect(await readSome(late, 300)).toBeUndefined();

    proxy.restore();
    expect(await readSome(c, 2000)).toBe('held');
    expect(await readSome(late, 2000)).toBe('late');
    c.destroy();
    late.destroy();
  });
});

describe('tcp proxy in front of the real broker', () => {
  let proxy: TcpProxy;
  afterEach(async () => proxy?.close());

  it('a stall longer than the heartbeat makes amqplib drop the connection; after restore it connects again', async () => {
    const broker = new URL(TEST_AMQP_BASE);
    proxy = await createTcpProxy({ targetPort: Number(broker.port || 5672) });
    const url = `${proxy.rewrite(TEST_AMQP_BASE)}?heartbeat=1`;
    const conn = await amqplib.connect(url);
    const errors: Error[] = [];
    conn.on('error', (e: Error) => errors.push(e));
    const closed = closeOf(conn);
    const t0 = Date.now();
    proxy.stall();
    await closed;
    const detectedMs = Date.now() - t0;
    // amqplib gives up after two missed heartbeats (about 2 s at heartbeat=1).
    expect(detectedMs).toBeGreaterThanOrEqual(1000);
    expect(detectedMs).toBeLessThan(6000);
    expect(errors.map((e) => e.message).join(' ')).toMatch(/heartbeat/i);

    proxy.restore();
    const again = await amqplib.connect(url);
    const ch = await again.createChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen/);
    await again.close();
  });

  it('a cut closes the broker connection at once', async () => {
    const broker = new URL(TEST_AMQP_BASE);
    proxy = await createTcpProxy({ targetPort: Number(broker.port || 5672) });
    const conn = await amqplib.connect(proxy.rewrite(TEST_AMQP_BASE));
    conn.on('error', () => undefined);
    const closed = closeOf(conn);
    const t0 = Date.now();
    proxy.cut();
    await closed;
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(amqplib.connect(proxy.rewrite(TEST_AMQP_BASE))).rejects.toThrow();
  });
});
