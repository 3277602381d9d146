import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import { JOB_EVENT_BATCH_TYPE } from '../jobs/job-event-codec.ts';
import { jobEventProperties, type JobEventPublisher } from '../jobs/job-event-publisher.ts';
import type { JobEventSigner } from '../jobs/job-event-signature.ts';

/** Options of {@link createBatchedJobEventPublisher}. */
export interface EventBatcherOptions {
  /** Events per message at most. @default 200 */
  maxBatch?: number;
  /** Bytes of events per message at most (results can be large). @default 512 KiB */
  maxBytes?: number;
  /** How long an event may wait for companions; 0 flushes at the end of the current event-loop turn. @default 0 */
  maxDelayMs?: number;
}

/** The worker's event publisher: a JobEventPublisher that batches, plus a way in for events already in JSON. */
export interface BatchedJobEventPublisher extends JobEventPublisher {
  /**
   * Emits an event given as the JSON of its fields other than `source` and
   * `at` (which are added, as for `emit`), without braces, e.g.
   * `"status":"succeeded","jobId":"j1"`. `jobId` and `status` must be the
   * ones in `fields`. For the settler, which writes that JSON by hand (settled-json.ts).
   */
  emitFields(jobId: string, status: JobEvent['status'], fields: string): Promise<void>;
  /** Publishes the batch being filled now. */
  flush(): void;
}

/** The message being filled: every emit in it shares one promise (one allocation per batch, not per event). */
interface Batch {
  jsons: string[];
  bytes: number;
  /** The lone event, kept to label a one-event message like createJobEventPublisher does. */
  first: { jobId: string; status: string } | undefined;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch whose emits were not awaited must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { jsons: [], bytes: 0, first: undefined, promise, resolve, reject };
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
  signer: JobEventSigner,
  options: EventBatcherOptions = {},
): BatchedJobEventPublisher {
  const maxBatch = options.maxBatch ?? 200;
  const maxBytes = options.maxBytes ?? 512 * 1024;
  const maxDelay = options.maxDelayMs ?? 0;
  const sourceJson = JSON.stringify(source);
  let batch: Batch | undefined;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  // Events of the same millisecond share one `{"source":…,"at":"…",` prefix.
  let lastMs = 0;
  let lastPrefix = '';
  const prefixNow = (): string => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastPrefix = `{"source":${sourceJson},"at":"${new Date(ms).toISOString()}",`;
    }
    return lastPrefix;
  };

  function send(b: Batch): void {
    const lone = b.jsons.length === 1 ? b.first : undefined;
    const content = Buffer.from(lone ? (b.jsons[0] as string) : `[${b.jsons.join(',')}]`);
    // One signature per message, not per event.
    const properties = jobEventProperties(signer, lone ? `job.${lone.status}` : JOB_EVENT_BATCH_TYPE, content, lone?.jobId);
    publisher.publish({ exchange: config.exchange, routingKey: '', content, properties }).then(b.resolve, b.reject);
  }

  function flush(): void {
    if (scheduled !== undefined) {
      if (maxDelay > 0) clearTimeout(scheduled as NodeJS.Timeout);
      else clearImmediate(scheduled as NodeJS.Immediate);
      scheduled = undefined;
    }
    const b = batch;
    batch = undefined;
    if (b) send(b);
  }

  function add(jobId: string, status: string, json: string): Promise<void> {
    if (batch && batch.bytes + json.length > maxBytes) flush();
    const b = (batch ??= newBatch());
    if (b.jsons.length === 0) b.first = { jobId, status };
    b.jsons.push(json);
    b.bytes += json.length;
    if (b.jsons.length >= maxBatch) flush();
    else if (scheduled === undefined) scheduled = maxDelay > 0 ? setTimeout(flush, maxDelay) : setImmediate(flush);
    return b.promise;
  }

  return {
    flush,
    emit(event) {
      // `{"source":…,"at":…,` + the event's own fields: the same object createJobEventPublisher
      // writes, without copying the event first.
      const body = JSON.stringify(event);
      const json = event.at === undefined ? `${prefixNow()}${body.slice(1)}` : `{"source":${sourceJson},${body.slice(1)}`;
      return add(event.jobId, event.status, json);
    },
    emitFields(jobId, status, fields) {
      return add(jobId, status, `${prefixNow()}${fields}}`);
    },
  };
}
