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

/** Encodes a reply message body. */
export function encodeReply(message: ReplyMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
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
