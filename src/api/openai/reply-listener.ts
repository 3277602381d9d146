import type { Channel } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import { decodeReplies, replyQueueName, type ReplyMessage } from '../../jobs/reply-messages.ts';
import type { Logger } from '../../observability/logger.ts';

/**
 * This replica's end of the live reply channel (src/jobs/reply-messages.ts):
 * one exclusive, auto-delete, non-durable queue, consumed without acks, its
 * messages (one reply, or a worker's batch of them) handed to whoever
 * watches their job id. A reply for a job nobody here watches (its client
 * left) is dropped. The queue goes away with
 * the replica's connection; a worker's later replies to it are dropped by the
 * broker, and the job's result stays in the job events.
 */
export interface ReplyListener {
  /** The queue workers reply to (the `replyTo` of this replica's front-door jobs). */
  readonly queue: string;
  /** True while the queue is declared and consumed. */
  isReady(): boolean;
  /** Calls `onMessage` with each reply for `jobId` until the returned function is called. */
  watch(jobId: string, onMessage: (message: ReplyMessage) => void): () => void;
  close(): Promise<void>;
}

/** Creates and starts the reply listener of one API replica. */
export function createReplyListener(deps: { connection: BrokerConnection; replicaId: string; logger: Logger }): ReplyListener {
  const queue = replyQueueName(deps.replicaId);
  const watchers = new Map<string, (message: ReplyMessage) => void>();
  let channel: Channel | undefined;
  let ready = false;
  let closed = false;

  const unsubscribe = deps.connection.onConnect(async (conn) => {
    if (closed) return;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => deps.logger.warn({ err: err.message, queue }, 'reply channel error'));
    ch.on('close', () => {
      if (channel === ch) {
        channel = undefined;
        ready = false;
      }
    });
    // Bounded, so a replica that stops reading can't fill the broker: replies are a convenience, the result is in the job events.
    await ch.assertQueue(queue, { exclusive: true, autoDelete: true, durable: false, arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 60_000, 'x-max-length': 100_000 } });
    await ch.consume(
      queue,
      (msg) => {
        if (msg === null) return;
        // One reply or a batch of them (several jobs' chunks sent in one turn by a worker).
        for (const m of decodeReplies(msg.content)) watchers.get(m.jobId)?.(m);
      },
      { noAck: true, exclusive: true },
    );
    channel = ch;
    ready = true;
  });

  return {
    queue,
    isReady: () => ready,
    watch(jobId, onMessage) {
      watchers.set(jobId, onMessage);
      return () => {
        if (watchers.get(jobId) === onMessage) watchers.delete(jobId);
      };
    },
    async close() {
      closed = true;
      unsubscribe();
      ready = false;
      const ch = channel;
      channel = undefined;
      await ch?.close().catch(() => undefined);
    },
  };
}
