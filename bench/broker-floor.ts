/**
 * What one trip through the broker costs on this machine with no warren code in the path, for the
 * front-door bench to print beside warren's added latency: a bare amqplib publish of a transient
 * message to a consumer on another connection (the worker's reply to the API), and a bare persistent
 * publish to a quorum queue until its confirm (the job's commit). Calls are spaced the way a lightly
 * loaded gateway sees them (each finds the broker and both processes idle and pays their wake-up).
 */
import { setTimeout as pause } from 'node:timers/promises';
import amqplib from 'amqplib';

/** Medians (ms) of the two trips. */
export interface BrokerFloor {
  /** Transient publish → delivered to a consumer on another connection. */
  hopMs: number;
  /** Persistent publish to a quorum queue → its confirm. */
  quorumConfirmMs: number;
  samples: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] ?? 0) * 100) / 100;
}

/** Measures both trips in `amqpUrl`'s vhost (its queues are removed afterwards). */
export async function measureBrokerFloor(amqpUrl: string, options: { samples?: number; gapMs?: number } = {}): Promise<BrokerFloor> {
  const samples = options.samples ?? 40;
  const gapMs = options.gapMs ?? 100;
  // TCP_NODELAY as warren's own connections (src/broker/broker-connection.ts).
  const publisherConn = await amqplib.connect(amqpUrl, { noDelay: true });
  const consumerConn = await amqplib.connect(amqpUrl, { noDelay: true });
  const quorum = `bench.floor.${Date.now().toString(36)}`;
  try {
    const pub = await publisherConn.createConfirmChannel();
    const sub = await consumerConn.createChannel();
    const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    let delivered: (() => void) | undefined;
    await sub.consume(queue, () => delivered?.(), { noAck: true, exclusive: true });
    const body = Buffer.from('x'.repeat(800));
    const hops: number[] = [];
    for (let i = 0; i < samples; i++) {
      const got = new Promise<void>((resolve) => (delivered = resolve));
      const t = performance.now();
      pub.publish('', queue, body, { persistent: false });
      await got;
      hops.push(performance.now() - t);
      await pause(gapMs);
    }

    await pub.assertQueue(quorum, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const confirms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await new Promise<void>((resolve, reject) => pub.publish('', quorum, body, { persistent: true }, (err) => (err ? reject(err) : resolve())));
      confirms.push(performance.now() - t);
      await pause(gapMs);
    }
    await pub.deleteQueue(quorum);
    return { hopMs: median(hops), quorumConfirmMs: median(confirms), samples };
  } finally {
    await publisherConn.close().catch(() => undefined);
    await consumerConn.close().catch(() => undefined);
  }
}
