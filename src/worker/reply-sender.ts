import type { Channel } from 'amqplib';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import { encodeReplyBatch, isReplyQueue, MAX_REPLY_BATCH_ITEMS, REPLY_MESSAGE_TYPE, type ReplyMessage } from '../jobs/reply-messages.ts';
import type { Logger } from '../observability/logger.ts';

/** Largest batch body (bytes of JSON, about): a fuller batch is sent at once. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Sends live replies (stream chunks, final completions) to the API replica
 * that waits for a job (src/jobs/reply-messages.ts). Fire and forget on a
 * channel of its own without confirms: a job never waits for its client. When
 * the channel's write buffer is full, or the broker is away, replies are
 * dropped and counted; the client notices the gap in `seq` and the result
 * still arrives through the job events.
 *
 * Batching: the first reply to a queue in an event-loop turn is published at
 * once; the replies to that queue that follow in the same turn (under load,
 * the chunks of many streams are read from their sockets in one turn) wait
 * for the end of the turn (`setImmediate`) and go as one message. A reply is
 * therefore never held for a batch that might come; a burst costs the broker
 * one message instead of one per chunk.
 */
export interface ReplySender {
  /** Sends `message` to `replyTo`; false when it was dropped (not a reply queue, no channel, back-pressure). */
  send(replyTo: string, message: ReplyMessage): boolean;
  /** Replies sent, replies dropped and the AMQP messages that carried the sent ones, since start. */
  counts(): { sent: number; dropped: number; messages: number };
  close(): Promise<void>;
}

interface Batch {
  items: string[];
  bytes: number;
  /** Job id of the first item: the message's `messageId`. */
  jobId: string;
}

/** Creates the worker's reply sender on `connection`. */
export function createReplySender(deps: { connection: BrokerConnection; logger: Logger }): ReplySender {
  let channel: Channel | undefined;
  let draining = false;
  let dropped = 0;
  let sent = 0;
  let messages = 0;
  let closed = false;
  /** Queues published to in this turn: their next replies wait for the turn's end. */
  const sentThisTurn = new Set<string>();
  /** Replies waiting for the turn's end, by queue. */
  const batches = new Map<string, Batch>();
  let flushScheduled = false;

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

  /** Publishes `items` (encoded replies) to `replyTo` as one message; false when they were dropped. */
  function publish(replyTo: string, items: readonly string[], jobId: string): boolean {
    const ch = channel;
    if (closed || ch === undefined || draining) {
      dropped += items.length;
      return false;
    }
    try {
      // The default exchange: a queue that is gone (its replica died) drops the message, nothing else happens.
      const ok = ch.publish('', replyTo, encodeReplyBatch(items), { persistent: false, type: REPLY_MESSAGE_TYPE, contentType: 'application/json', messageId: jobId });
      messages++;
      sent += items.length;
      if (!ok) draining = true;
      return true;
    } catch {
      dropped += items.length;
      return false;
    }
  }

  function flush(): void {
    flushScheduled = false;
    for (const [replyTo, batch] of batches) publish(replyTo, batch.items, batch.jobId);
    batches.clear();
    sentThisTurn.clear();
  }

  function scheduleFlush(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  }

  return {
    send(replyTo, message) {
      if (closed || channel === undefined || draining || !isReplyQueue(replyTo)) {
        dropped++;
        return false;
      }
      const encoded = JSON.stringify(message);
      const batch = batches.get(replyTo);
      if (batch !== undefined) {
        batch.items.push(encoded);
        batch.bytes += encoded.length + 1;
        if (batch.items.length >= MAX_REPLY_BATCH_ITEMS || batch.bytes >= MAX_BATCH_BYTES) {
          batches.delete(replyTo);
          return publish(replyTo, batch.items, batch.jobId);
        }
        return true;
      }
      // Scheduled before the publish, so the turn's batches are written out with this message.
      scheduleFlush();
      if (!sentThisTurn.has(replyTo)) {
        sentThisTurn.add(replyTo);
        return publish(replyTo, [encoded], message.jobId);
      }
      batches.set(replyTo, { items: [encoded], bytes: encoded.length, jobId: message.jobId });
      return true;
    },
    counts: () => ({ sent, dropped, messages }),
    async close() {
      // What waits for the turn's end goes out first (a job's `done` may be among it).
      flush();
      closed = true;
      unsubscribe();
      const ch = channel;
      channel = undefined;
      await ch?.close().catch(() => undefined);
    },
  };
}
