import { z } from 'zod';

/**
 * The live reply channel of the OpenAI front door: the contract between the
 * API replica that holds a client's connection and the worker that runs its
 * job. The API declares one exclusive, auto-delete queue per replica
 * (`warren.reply.<replica id>`) and publishes each front-door job with
 * `replyTo` naming it; the worker sends the provider's stream chunks and the
 * final completion there, unconfirmed and non-persistent (the job's result is
 * kept by its `succeeded` job event, as for every job). Lost reply messages
 * cost latency, never the result.
 *
 * One AMQP message carries one reply, or a batch of them (`{"kind": "batch",
 * "items": [...]}`): a worker that has several replies for the same replica
 * in one event-loop turn (chunks of many streams arriving together under load)
 * sends them as one message. A lone reply is never held back for a batch.
 */

/** Prefix of every reply queue: a worker sends replies only to queues named so (replyTo is message input, never a free destination). */
export const REPLY_QUEUE_PREFIX = 'warren.reply.';

/** Value of the `x-warren-reply-format` header on front-door jobs. */
export const OPENAI_REPLY_FORMAT = 'chat.completion';

/** AMQP `type` of reply messages. */
export const REPLY_MESSAGE_TYPE = 'warren.reply';

/** The reply queue of one API replica. */
export function replyQueueName(replicaId: string): string {
  return `${REPLY_QUEUE_PREFIX}${replicaId}`;
}

/** True when `replyTo` names a reply queue (anything else is never written to). */
export function isReplyQueue(replyTo: unknown): replyTo is string {
  return typeof replyTo === 'string' && replyTo.length > REPLY_QUEUE_PREFIX.length && replyTo.length <= 200 && replyTo.startsWith(REPLY_QUEUE_PREFIX) && /^[A-Za-z0-9._-]+$/.test(replyTo);
}

/**
 * One reply message. `run` is random per handler run, so the API tells a
 * retry or a redelivery (a crashed worker's job run again, same attempt
 * number) from the run it was relaying; `seq` numbers a run's chunks from 0,
 * so a dropped chunk is noticed instead of silently skipped.
 */
export const replyMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('chunk'), jobId: z.string(), run: z.string(), attempt: z.number().int(), seq: z.number().int().nonnegative(), chunk: z.unknown() }),
  z.object({ kind: z.literal('done'), jobId: z.string(), run: z.string(), attempt: z.number().int(), seq: z.number().int().nonnegative(), result: z.unknown() }),
]);
export type ReplyMessage = z.infer<typeof replyMessageSchema>;

/** Most replies one batch message carries (a sender flushes a fuller batch at once). */
export const MAX_REPLY_BATCH_ITEMS = 256;

const replyBatchSchema = z.object({ kind: z.literal('batch'), items: z.array(z.unknown()).max(MAX_REPLY_BATCH_ITEMS) });

/** Encodes a reply message body. */
export function encodeReply(message: ReplyMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/**
 * The body of one AMQP message carrying `encoded` replies (each already
 * `JSON.stringify`-ed): a lone reply as itself, several as a batch.
 */
export function encodeReplyBatch(encoded: readonly string[]): Buffer {
  if (encoded.length === 1) return Buffer.from(encoded[0] as string);
  return Buffer.from(`{"kind":"batch","items":[${encoded.join(',')}]}`);
}

/** Decodes a reply message body; undefined when it is not one (dropped by the caller). */
export function decodeReply(content: Buffer): ReplyMessage | undefined {
  try {
    const parsed = replyMessageSchema.safeParse(JSON.parse(content.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes a reply message body, one reply or a batch, in order. What is not
 * a reply is left out (a batch keeps its valid items): the receiver notices a
 * missing chunk by its `seq`.
 */
export function decodeReplies(content: Buffer): ReplyMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(content.toString('utf8'));
  } catch {
    return [];
  }
  const batch = replyBatchSchema.safeParse(value);
  const items = batch.success ? batch.data.items : [value];
  const out: ReplyMessage[] = [];
  for (const item of items) {
    const parsed = replyMessageSchema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}
