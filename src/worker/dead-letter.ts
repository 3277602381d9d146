import type { ConsumeMessage } from 'amqplib';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import type { QueueConfig } from '../config/topology-schema.ts';
import { ERROR_MESSAGE_MAX } from '../jobs/headers.ts';
import { readOrigin, type AmqpHeaders } from '../jobs/job-headers.ts';
import { deadLetterProperties } from '../jobs/message-properties.ts';
import { safeErrorMessage } from './scrub-secrets.ts';

/** Why and where a job died, written into its dead-letter headers. */
export interface DeadLetterInfo {
  /** Error class of the last failure. */
  errorClass: string;
  /** Raw error message (scrubbed and truncated here). */
  errorMessage: string;
  /** `x-warren-reason`: an error class, `attempts-exhausted` or `invalid-payload`. */
  reason: string;
  /** Attempts made (the attempt that failed last). */
  attempts: number;
  /** Queue the job was consumed from. */
  queue: string;
  /** Exact secrets to remove from the message (configured provider keys). */
  secrets?: readonly string[];
  now?: Date;
}

/** Origin of a delivery: the `x-warren-origin-*` headers, else where this delivery came from. */
export function originOf(msg: ConsumeMessage): { exchange: string; routingKey: string } {
  return readOrigin(msg.properties.headers as AmqpHeaders | undefined, msg.fields);
}

/**
 * The publish that dead-letters a job through the queue's DLX, as the broker
 * would (the queue's `deadLetter.exchange`, its `routingKey` or else the
 * message's own), with the original body and properties plus `x-warren-*`
 * headers that say why. Undefined when the queue has no dead-letter target.
 */
export function deadLetterRequest(msg: ConsumeMessage, queue: QueueConfig | undefined, info: DeadLetterInfo): PublishRequest | undefined {
  const target = queue?.deadLetter;
  if (!target) return undefined;
  const origin = originOf(msg);
  return {
    exchange: target.exchange,
    routingKey: target.routingKey ?? origin.routingKey,
    content: msg.content,
    properties: deadLetterProperties(msg.properties, {
      errorClass: info.errorClass,
      errorMessage: safeErrorMessage(info.errorMessage, ERROR_MESSAGE_MAX, info.secrets),
      reason: info.reason,
      attempts: info.attempts,
      origin,
      queue: info.queue,
      failedAt: info.now ?? new Date(),
    }),
  };
}
