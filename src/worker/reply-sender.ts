import type { Channel } from 'amqplib';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import { encodeReply, isReplyQueue, REPLY_MESSAGE_TYPE, type ReplyMessage } from '../jobs/reply-messages.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * Sends live replies (stream chunks, final completions) to the API replica
 * that waits for a job (src/jobs/reply-messages.ts). Fire and forget on a
 * channel of its own without confirms: a job never waits for its client. When
 * the channel's write buffer is full, or the broker is away, replies are
 * dropped and counted; the client notices the gap in `seq` and the result
 * still arrives through the job events.
 */
export interface ReplySender {
  /** Sends `message` to `replyTo`; false when it was dropped (not a reply queue, no channel, back-pressure). */
  send(replyTo: string, message: ReplyMessage): boolean;
  /** Replies dropped since start. */
  dropped(): number;
  close(): Promise<void>;
}

/** Creates the worker's reply sender on `connection`. */
export function createReplySender(deps: { connection: BrokerConnection; logger: Logger }): ReplySender {
  let channel: Channel | undefined;
  let draining = false;
  let dropped = 0;
  let closed = false;
  const unsubscribe = deps.connection.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => deps.logger.warn({ err: err.message }, 'reply channel error'));
    ch.on('close', () => {
      if (channel === ch) channel = undefined;
    });
    ch.on('drain', () => {
      draining = false;
    });
    draining = false;
    channel = ch;
  });

  return {
    send(replyTo, message) {
      const ch = channel;
      if (closed || ch === undefined || draining || !isReplyQueue(replyTo)) {
        dropped++;
        return false;
      }
      try {
        // The default exchange: a queue that is gone (its replica died) drops the message, nothing else happens.
        const ok = ch.publish('', replyTo, encodeReply(message), { persistent: false, type: REPLY_MESSAGE_TYPE, contentType: 'application/json', messageId: message.jobId });
        if (!ok) draining = true;
        return true;
      } catch {
        dropped++;
        return false;
      }
    },
    dropped: () => dropped,
    async close() {
      closed = true;
      unsubscribe();
      const ch = channel;
      channel = undefined;
      await ch?.close().catch(() => undefined);
    },
  };
}
