import { randomUUID } from 'node:crypto';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { JobEventsConfig } from '../config/topology-schema.ts';
import { toAmqpTimestamp } from './amqp-timestamp.ts';
import { HEADERS } from './headers.ts';
import type { JobEvent } from './job-event.ts';
import { JOB_EVENT_APP_ID, type JobEventSigner } from './job-event-signature.ts';
import { JSON_CONTENT_TYPE } from './message-properties.ts';

/** Publishes job lifecycle events to the job-events exchange (fanout into the stream). */
export interface JobEventPublisher {
  /** Resolves once the broker confirmed the event. */
  emit(event: Omit<JobEvent, 'at'> & { at?: string }): Promise<void>;
}

/**
 * The signature part of a job-events message: appId `warren` and the signature
 * header, which the API's status tail requires.
 */
export function signedEventProperties(signer: JobEventSigner, type: string, content: Buffer): { appId: string; type: string; headers: Record<string, string> } {
  return { appId: JOB_EVENT_APP_ID, type, headers: { [HEADERS.eventSignature]: signer.sign(type, content) } };
}

/** The properties of a job-events message as {@link jobEventProperties} returns them (a fresh `headers` object the caller may add to). */
export interface JobEventProperties {
  persistent: true;
  mandatory: true;
  messageId: string;
  contentType: string;
  /** Seconds, as on every message warren writes (see amqp-timestamp.ts). */
  timestamp: number;
  correlationId?: string;
  appId: string;
  type: string;
  headers: Record<string, string>;
}

/**
 * The properties of every job-events message warren writes (API, workers, DLQ
 * tooling): persistent, mandatory, a message id (so the confirm publisher
 * sends this object as is), JSON, a timestamp in seconds, the job id as
 * correlation id when the message holds one event, and the signature.
 */
export function jobEventProperties(signer: JobEventSigner, type: string, content: Buffer, correlationId?: string): JobEventProperties {
  const props: JobEventProperties = {
    persistent: true,
    mandatory: true,
    messageId: randomUUID(),
    contentType: JSON_CONTENT_TYPE,
    timestamp: toAmqpTimestamp(),
    ...signedEventProperties(signer, type, content),
  };
  if (correlationId !== undefined) props.correlationId = correlationId;
  return props;
}

/**
 * Creates the event publisher used by the API (queued), workers (running ...
 * dead-lettered) and the DLQ tooling (requeued). `signer` may be a loader,
 * called on the first emit (the CLI loads the key only when it has an event to
 * write); when it fails, that emit and every later one reject.
 */
export function createJobEventPublisher(
  publisher: Pick<ConfirmPublisher, 'publish'>,
  config: Pick<JobEventsConfig, 'exchange'>,
  source: string,
  signer: JobEventSigner | (() => Promise<JobEventSigner>),
): JobEventPublisher {
  let loading: Promise<JobEventSigner> | undefined;
  const signerNow = (): JobEventSigner | Promise<JobEventSigner> => (typeof signer === 'function' ? (loading ??= signer()) : signer);
  return {
    async emit(event) {
      const full: JobEvent = { source, ...event, at: event.at ?? new Date().toISOString() } as JobEvent;
      const content = Buffer.from(JSON.stringify(full));
      const s = await signerNow();
      return publisher.publish({
        exchange: config.exchange,
        routingKey: '',
        content,
        properties: jobEventProperties(s, `job.${full.status}`, content, full.jobId),
      });
    },
  };
}
