import type { MessageProperties, Options } from 'amqplib';
import type { AmqpHeaders } from './job-headers.ts';

/**
 * Properties for republishing a consumed message (retry, dead-letter,
 * forward): everything kept except `expiration` (a retry sets its own; a dead
 * letter must not expire), `userId` (the broker refuses one that isn't the
 * connection's user) and `clusterId` (deprecated).
 */
export function republishProperties(props: MessageProperties, headers: AmqpHeaders): Options.Publish {
  const out: Options.Publish = { headers, persistent: props.deliveryMode !== 1 };
  if (props.contentType !== undefined) out.contentType = props.contentType as string;
  if (props.contentEncoding !== undefined) out.contentEncoding = props.contentEncoding as string;
  if (props.priority !== undefined) out.priority = props.priority as number;
  if (props.correlationId !== undefined) out.correlationId = props.correlationId as string;
  if (props.replyTo !== undefined) out.replyTo = props.replyTo as string;
  if (props.messageId !== undefined) out.messageId = props.messageId as string;
  if (props.timestamp !== undefined) out.timestamp = props.timestamp as number;
  if (props.type !== undefined) out.type = props.type as string;
  if (props.appId !== undefined) out.appId = props.appId as string;
  return out;
}
