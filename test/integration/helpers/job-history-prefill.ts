import type { ChannelModel } from 'amqplib';
import { JOB_EVENT_BATCH_TYPE } from '../../../src/jobs/job-event-codec.ts';
import { signedEventProperties } from '../../../src/jobs/job-event-publisher.ts';
import type { JobEventSigner } from '../../../src/jobs/job-event-signature.ts';

/** One job's events, as the prefill writes them. */
export type PrefillEvent = Record<string, unknown> & { jobId: string; status: string; at: string };

/**
 * Writes job events straight into the job-events exchange as warren's writers
 * do (`job.batch` arrays, signed, AMQP timestamp in ms), `perMessage` events a
 * message, confirmed in pipelines: a long history in seconds, without an API
 * or worker per event.
 */
export async function prefillEvents(
  conn: ChannelModel,
  options: { exchange: string; signer: JobEventSigner; total: number; perMessage: number; event: (i: number) => PrefillEvent; timestamp?: (i: number) => number },
): Promise<void> {
  const ch = await conn.createConfirmChannel();
  try {
    let inFlight = 0;
    for (let i = 0; i < options.total; i += options.perMessage) {
      const events: PrefillEvent[] = [];
      for (let j = i; j < Math.min(options.total, i + options.perMessage); j++) events.push(options.event(j));
      const content = Buffer.from(JSON.stringify(events));
      ch.publish(options.exchange, '', content, {
        contentType: 'application/json',
        timestamp: options.timestamp?.(i) ?? Date.now(),
        ...signedEventProperties(options.signer, JOB_EVENT_BATCH_TYPE, content),
      });
      // Bounded pipeline: confirms every 64 messages keep memory flat whatever `total` is.
      if (++inFlight >= 64) {
        await ch.waitForConfirms();
        inFlight = 0;
      }
    }
    await ch.waitForConfirms();
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/** Publishes one raw message to the job-events exchange (legacy, foreign or malformed ones) and waits for its confirm. */
export async function publishRaw(conn: ChannelModel, exchange: string, content: Buffer | string, properties: Record<string, unknown>): Promise<void> {
  const ch = await conn.createConfirmChannel();
  try {
    ch.publish(exchange, '', Buffer.isBuffer(content) ? content : Buffer.from(content), properties);
    await ch.waitForConfirms();
  } finally {
    await ch.close().catch(() => undefined);
  }
}
