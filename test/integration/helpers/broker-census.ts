import type amqplib from 'amqplib';
import { seg } from '../../../src/broker/management-client.ts';
import type { TestVhost } from './test-vhost.ts';

/** Every queue of a vhost with its type and the messages it holds, by name. */
export type Census = Map<string, { type: string; messages: number }>;

/**
 * Messages in a stream, counted by reading it from the first offset (a passive
 * declare says 0 for a stream, and the management API's count lags by its
 * statistics interval). Stops when nothing arrives for `idleMs`.
 */
export async function streamLength(conn: amqplib.ChannelModel, stream: string, idleMs = 400): Promise<number> {
  const ch = await conn.createChannel();
  try {
    await ch.prefetch(1000);
    let count = 0;
    let last = Date.now();
    const { consumerTag } = await ch.consume(
      stream,
      (m) => {
        if (!m) return;
        count++;
        last = Date.now();
        ch.ack(m);
      },
      { noAck: false, arguments: { 'x-stream-offset': 'first' } },
    );
    while (Date.now() - last < idleMs) await new Promise((r) => setTimeout(r, 50));
    await ch.cancel(consumerTag);
    return count;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/** Reads every queue the broker has in the vhost (names from the management API, counts over AMQP). */
export async function takeCensus(vh: TestVhost, conn: amqplib.ChannelModel): Promise<Census> {
  const queues = await vh.management.get<Array<{ name: string; type: string }>>(`/queues/${seg(vh.vhost)}?columns=name,type`);
  const out: Census = new Map();
  const ch = await conn.createChannel();
  try {
    for (const q of queues.sort((a, b) => a.name.localeCompare(b.name))) {
      const messages = q.type === 'stream' ? await streamLength(conn, q.name) : (await ch.checkQueue(q.name)).messageCount;
      out.set(q.name, { type: q.type, messages });
    }
  } finally {
    await ch.close().catch(() => undefined);
  }
  return out;
}

/** Takes censuses until two in a row agree (a quorum queue's count lags a moment behind a confirm). */
export async function settledCensus(vh: TestVhost, conn: amqplib.ChannelModel, timeoutMs = 15_000): Promise<Census> {
  const until = Date.now() + timeoutMs;
  let prev = await takeCensus(vh, conn);
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await takeCensus(vh, conn);
    const same = prev.size === next.size && [...prev].every(([k, v]) => next.get(k)?.messages === v.messages);
    if (same || Date.now() > until) return next;
    prev = next;
  }
}

/** Queues whose count differs between two censuses: name -> [before, after]. */
export function censusDiff(before: Census, after: Census): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(name)?.messages ?? 0;
    const b = after.get(name)?.messages ?? 0;
    if (a !== b) out[name] = [a, b];
  }
  return out;
}
