import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import type { JobEventPublisher } from '../jobs/job-event-publisher.ts';

/**
 * AMQP `type` of a job-events message holding a JSON array of events. The
 * API's stream reader (src/api/status/job-event-codec.ts) decodes both a single
 * event object and such an array; a unit test keeps the two names equal.
 */
export const JOB_EVENT_BATCH_TYPE = 'job.batch';

/** Options of {@link createBatchedJobEventPublisher}. */
export interface EventBatcherOptions {
  /** Events per message at most. @default 200 */
  maxBatch?: number;
  /** Bytes of events per message at most (results can be large). @default 512 KiB */
  maxBytes?: number;
  /** How long an event may wait for companions; 0 flushes at the end of the current event-loop turn. @default 0 */
  maxDelayMs?: number;
}

interface Pending {
  json: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A JobEventPublisher that coalesces the events emitted in the same
 * event-loop turn into one stream message (a JSON array; a lone event is sent
 * as the plain object createJobEventPublisher writes). Each `emit` still
 * resolves only once the broker confirmed the message carrying it, so a job is
 * acked after its event is stored. Under load this turns one confirmed
 * stream publish per job event into one per batch, which is most of the
 * broker work a fast job would otherwise add; with `maxDelayMs` 0 it adds no
 * latency when idle. Order is kept: batches go out in emit order on one
 * publisher, which should have a single channel.
 */
export function createBatchedJobEventPublisher(
  publisher: Pick<ConfirmPublisher, 'publish'>,
  config: { exchange: string },
  source: string,
  options: EventBatcherOptions = {},
): JobEventPublisher & { flush(): void } {
  const maxBatch = options.maxBatch ?? 200;
  const maxBytes = options.maxBytes ?? 512 * 1024;
  const maxDelay = options.maxDelayMs ?? 0;
  let pending: Pending[] = [];
  let bytes = 0;
  let single: JobEvent | undefined;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;

  function send(batch: Pending[], lone: JobEvent | undefined): void {
    const content = Buffer.from(batch.length === 1 ? (batch[0] as Pending).json : `[${batch.map((p) => p.json).join(',')}]`);
    const properties =
      batch.length === 1 && lone
        ? { contentType: 'application/json', type: `job.${lone.status}`, correlationId: lone.jobId, timestamp: Date.now() }
        : { contentType: 'application/json', type: JOB_EVENT_BATCH_TYPE, timestamp: Date.now() };
    publisher.publish({ exchange: config.exchange, routingKey: '', content, properties }).then(
      () => {
        for (const p of batch) p.resolve();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err as Error);
      },
    );
  }

  function flush(): void {
    if (scheduled !== undefined) {
      if (maxDelay > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = undefined;
    }
    if (pending.length === 0) return;
    const batch = pending;
    const lone = single;
    pending = [];
    bytes = 0;
    single = undefined;
    send(batch, lone);
  }

  return {
    flush,
    emit(event) {
      const full: JobEvent = { source, ...event, at: event.at ?? new Date().toISOString() } as JobEvent;
      const json = JSON.stringify(full);
      return new Promise<void>((resolve, reject) => {
        if (pending.length > 0 && bytes + json.length > maxBytes) flush();
        pending.push({ json, resolve, reject });
        bytes += json.length;
        single = pending.length === 1 ? full : undefined;
        if (pending.length >= maxBatch) flush();
        else if (scheduled === undefined) scheduled = maxDelay > 0 ? setTimeout(flush, maxDelay) : setImmediate(flush);
      });
    },
  };
}
