import type amqplib from 'amqplib';

/**
 * Waits until `queue` holds `count` ready messages (throws with the last count after `timeoutMs`).
 * A count read right after a requeue, a nack or a publish on another channel can lag: a quorum
 * queue counts a command once it is written and applied, a moment after the broker took it.
 */
export async function waitForCount(ch: amqplib.Channel, queue: string, count: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { messageCount } = await ch.checkQueue(queue);
    if (messageCount === count) return;
    if (Date.now() > until) throw new Error(`queue ${queue} holds ${messageCount} messages, expected ${count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
