import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { HEADERS } from '../../jobs/headers.ts';
import type { JobEvent } from '../../jobs/job-event.ts';
import { jobEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventSigner } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import { JOB_EVENT_BATCH_TYPE } from '../../jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE, type PayloadRecord } from '../../jobs/job-event-payload.ts';

/** Where the API sends the `queued` events it emits after each confirm. */
export interface JobEventSink {
  /**
   * Queues the event for publishing; never blocks and never throws (failures
   * are logged). `prompt` publishes it within `maxDelayMs` even when the
   * stream pace would hold it longer: for jobs other replicas de-duplicate on
   * (Idempotency-Key), whose window between replicas this keeps short.
   */
  emit(event: JobEvent, prompt?: boolean): void;
  /** Resolves when everything emitted so far was published (or given up on). */
  flush(): Promise<void>;
}

/** Options of {@link createJobEventBatcher}. */
export interface JobEventBatcherOptions {
  publisher: Pick<ConfirmPublisher, 'publish'>;
  /** The job-events fanout exchange. */
  exchange: string;
  /** Signs each message (the stream tails skip unsigned ones). */
  signer: JobEventSigner;
  logger: Logger;
  /** How long an event may wait for companions when the stream is quiet. @default 20 */
  maxDelayMs?: number;
  /**
   * Least time between two messages to the stream (a full `maxBatch` goes at
   * once). Under load it sets how much later other replicas see a job as
   * queued; this replica knows at once. @default 100
   */
  minIntervalMs?: number;
  /** Events per message at most. @default 1000 */
  maxBatch?: number;
  /** Events buffered at most (beyond: dropped with a warning, the job itself is safe). @default 20000 */
  maxPending?: number;
  /**
   * Payload characters per message at most (events carry their job's payload,
   * see job-event-payload.ts): a message this full goes at once, like a full
   * `maxBatch`, so no stream message grows much beyond a history segment
   * (1 MiB), which is what a lookup reads. @default 1 MiB
   */
  maxBatchPayload?: number;
  /**
   * Payload characters held at most, buffered or being published: beyond, an
   * event goes without its payload (its status is kept; the job page then says
   * the payload was not stored) and a warning counts them. Keeps memory bounded
   * while the broker is slow or away. @default 64 MiB
   */
  maxPendingPayload?: number;
  /** Publish attempts per message. @default 3 */
  attempts?: number;
  /**
   * This API process's id, written on every message (header `x-warren-replica`):
   * the process applied these events to its own index already, and its stream
   * tail skips them (see createJobEventsTailer's `replicaId`).
   */
  replicaId?: string;
}

/** The event without its payload fields. */
function withoutPayload(event: JobEvent): JobEvent {
  const { payload: _payload, payloadBytes: _bytes, ...rest } = event;
  return rest;
}

/**
 * Coalesces job events into few stream messages: one event alone is published
 * exactly as createJobEventPublisher would (a JobEvent object, type
 * `job.<status>`); several are published as one JSON array of type `job.batch`.
 * The payloads the `queued` events carry go beside them in one message of type
 * `job.payloads` (job-event-payload.ts), so status readers never decode them.
 * Under load this replaces one confirmed stream message per accepted job (which
 * cut publish throughput by about a third in measurements) with one per
 * `minIntervalMs`, and every replica's stream tail reads that many fewer
 * messages. The pace matters more than the size: on RabbitMQ 3.10 a stream
 * write every 20 ms beside a busy quorum queue cost the API about 15% of its
 * publish throughput (confirms of the jobs' quorum queue waited longer), while
 * one write per 100 ms cost about as much as no events at all.
 */
export function createJobEventBatcher(options: JobEventBatcherOptions): JobEventSink {
  const maxDelay = options.maxDelayMs ?? 20;
  const minInterval = options.minIntervalMs ?? 100;
  const maxBatch = options.maxBatch ?? 1000;
  const maxPending = options.maxPending ?? 20_000;
  const attempts = options.attempts ?? 3;
  const maxBatchPayload = options.maxBatchPayload ?? 1024 * 1024;
  const maxPendingPayload = options.maxPendingPayload ?? 64 * 1024 * 1024;
  let buffer: JobEvent[] = [];
  // Payload characters in `buffer`, and in `buffer` plus the messages being published.
  let bufferPayload = 0;
  let heldPayload = 0;
  let payloadsDropped = 0;
  let lastPayloadDropLog = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = 0;
  const inFlight = new Set<Promise<void>>();
  let lastPublishAt = -Infinity;
  let dropped = 0;
  let lastDropLog = 0;

  /** Publishes one message, retried; resolves with the last error when it was given up on (logged by the caller), else undefined. */
  async function publishMessage(type: string, content: Buffer, correlationId: string | undefined): Promise<unknown> {
    const properties = jobEventProperties(options.signer, type, content, correlationId);
    if (options.replicaId !== undefined) properties.headers[HEADERS.replica] = options.replicaId;
    for (let attempt = 1; ; attempt++) {
      try {
        await options.publisher.publish({ exchange: options.exchange, routingKey: '', content, properties });
        return undefined;
      } catch (err) {
        if (attempt >= attempts) return err;
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
  }

  /**
   * One message of events and, when they carry payloads, one message of those
   * payloads beside it (JOB_PAYLOADS_TYPE, which status readers skip unread).
   */
  async function publishBatch(events: JobEvent[]): Promise<void> {
    let records: PayloadRecord[] | undefined;
    let status = events;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.payload === undefined) continue;
      if (records === undefined) {
        records = [];
        status = events.slice();
      }
      records.push({ jobId: e.jobId, payload: e.payload, payloadBytes: e.payloadBytes ?? Buffer.byteLength(e.payload) });
      status[i] = withoutPayload(e);
    }
    const single = status.length === 1 ? status[0] : undefined;
    const sent = [publishMessage(single ? `job.${single.status}` : JOB_EVENT_BATCH_TYPE, Buffer.from(JSON.stringify(single ?? status)), single?.jobId)];
    if (records !== undefined) sent.push(publishMessage(JOB_PAYLOADS_TYPE, Buffer.from(JSON.stringify(records)), undefined));
    const [eventsErr, payloadsErr] = await Promise.all(sent);
    if (eventsErr !== undefined) {
      options.logger.error(
        { err: (eventsErr as Error).message, events: events.length, firstJobId: events[0]?.jobId },
        'could not publish job events; those jobs are queued but other API replicas will not see them as queued until a worker reports on them',
      );
    }
    if (payloadsErr !== undefined) {
      options.logger.error({ err: (payloadsErr as Error).message, payloads: records?.length, firstJobId: records?.[0]?.jobId }, 'could not publish job payloads; those jobs are queued, their payloads are not kept');
    }
  }

  /** How many of the buffer's first events make one message: at most `maxBatch`, and at most `maxBatchPayload` of payload (at least one event). */
  function nextBatchSize(): { count: number; payload: number } {
    let payload = 0;
    let count = 0;
    while (count < buffer.length && count < maxBatch) {
      const next = buffer[count]!.payload?.length ?? 0;
      if (count > 0 && payload + next > maxBatchPayload) break;
      payload += next;
      count++;
    }
    return { count, payload };
  }

  function flushNow(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length > 0) lastPublishAt = performance.now();
    while (buffer.length > 0) {
      const { count, payload } = nextBatchSize();
      const events = count === buffer.length ? buffer : buffer.slice(0, count);
      buffer = count === buffer.length ? [] : buffer.slice(count);
      bufferPayload -= payload;
      const p = publishBatch(events).finally(() => {
        inFlight.delete(p);
        heldPayload -= payload;
      });
      inFlight.add(p);
    }
  }

  /** Leaves the payload out of an event when holding it would pass `maxPendingPayload`. */
  function admitPayload(event: JobEvent): JobEvent {
    const size = event.payload?.length ?? 0;
    if (size === 0 || heldPayload + size <= maxPendingPayload) return event;
    payloadsDropped++;
    const now = Date.now();
    if (now - lastPayloadDropLog > 5_000) {
      lastPayloadDropLog = now;
      options.logger.warn({ payloadsDropped }, 'job event payloads held in memory reached their cap (broker slow or away); queued events go without their payload');
    }
    return withoutPayload(event);
  }

  return {
    emit(event, prompt) {
      if (buffer.length >= maxPending) {
        dropped++;
        const now = Date.now();
        if (now - lastDropLog > 5_000) {
          lastDropLog = now;
          options.logger.warn({ dropped }, 'job event buffer full (broker slow or away); dropping queued events');
        }
        return;
      }
      const admitted = admitPayload(event);
      const size = admitted.payload?.length ?? 0;
      buffer.push(admitted);
      bufferPayload += size;
      heldPayload += size;
      if (buffer.length >= maxBatch || bufferPayload >= maxBatchPayload) {
        flushNow();
        return;
      }
      const now = performance.now();
      // maxDelayMs after the first event, and (unless prompt) not sooner than minIntervalMs after the last message.
      const at = prompt === true ? now + maxDelay : Math.max(now + maxDelay, lastPublishAt + minInterval);
      if (timer !== undefined && at >= timerAt) return;
      if (timer !== undefined) clearTimeout(timer);
      timerAt = at;
      timer = setTimeout(flushNow, at - now);
    },
    async flush() {
      flushNow();
      await Promise.allSettled([...inFlight]);
    },
  };
}
