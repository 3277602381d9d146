/**
 * The API's batch thread (see batch-thread.ts): parses, validates, builds and
 * publishes the jobs of POST /v1/jobs/{route}/batch on a broker connection of
 * its own, told what to do by the request thread.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createBrokerConnection } from '../../broker/broker-connection.ts';
import { createConfirmPublisher } from '../../broker/confirm-publisher.ts';
import type { Topology } from '../../config/topology-schema.ts';
import { loadPayloadSchemas } from '../../consumer-modules/load-payload-schemas.ts';
import { eventPayload } from '../../jobs/job-event-payload.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../../jobs/payload-schemas.ts';
import { compileRoutes } from '../../jobs/route-catalog.ts';
import { createLogger, type LogFormat, type Logger } from '../../observability/logger.ts';
import { createSubmitter } from '../../submit/submitter.ts';
import { createPace } from '../../util/pace.ts';
import { ApiError } from '../api-error.ts';
import { toApiError } from '../http/to-api-error.ts';
import { prepareBatch, type BatchRequest } from '../jobs/batch-preparation.ts';
import type { ApiJob } from '../jobs/job-submitter.ts';
import { apiErrorData, errorData, type ApiErrorData, type BuiltJobData, type ErrorData, type FromBatchThread, type ToBatchThread } from './batch-thread-protocol.ts';

/** What the request thread starts the batch thread with (plain data). */
export interface BatchThreadData {
  topology: Topology;
  consumersDir: string | undefined;
  payloadBytes: number;
  logLevel: string;
  logFormat: string | undefined;
  connectionName: string;
  /** Parsing works `sliceMs` at a time and rests `restMs` after each slice. */
  sliceMs: number;
  restMs: number;
  /** Pace of publishing (message body bytes per second, all batches together; the request thread reads bodies at the same pace). */
  bytesPerSecond: number;
}

/** A body's chunks as they arrive from the request thread, read as an async iterable. */
class ChunkQueue implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private failed: Error | undefined;
  private wake: (() => void) | undefined;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  fail(err: Error): void {
    this.failed = err;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.failed !== undefined) throw this.failed;
      const next = this.chunks.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

interface Batch {
  body: ChunkQueue;
  /** The built jobs, once prepared (undefined where a job was invalid). */
  jobs: (ApiJob | undefined)[] | undefined;
}

/**
 * Puts this thread (only) at the lowest CPU priority: a batch is background work, and on a machine
 * whose cores are all busy the request thread and the broker go first. Linux gives a thread its own
 * nice value (setpriority(2) takes a thread id there); elsewhere the thread keeps the process's.
 */
function lowerThreadPriority(logger: Logger): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, 19);
  } catch (err) {
    logger.debug({ err }, 'could not lower the batch thread priority');
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('batch-thread-worker.ts runs as a worker thread');
  const data = workerData as BatchThreadData;
  const { topology } = data;
  const logger = createLogger({ name: 'warren', level: data.logLevel, ...(data.logFormat === undefined ? {} : { format: data.logFormat as LogFormat }) }).child({ component: 'api-batch-thread' });
  const send = (message: FromBatchThread) => port.postMessage(message);
  lowerThreadPriority(logger);

  const schemas = data.consumersDir === undefined ? BUILTIN_PAYLOAD_SCHEMAS : await loadPayloadSchemas(topology, data.consumersDir);
  const routes = compileRoutes(topology, schemas);
  const connection = createBrokerConnection({ urls: topology.connection.urls, vhost: topology.connection.vhost, heartbeat: topology.connection.heartbeat, name: data.connectionName, logger });
  // One channel: the broker handles a channel's messages in order, so batches never overtake each other's windows.
  const publisher = createConfirmPublisher({ connection, channels: 1, logger });
  const submitter = createSubmitter({ routes, publisher, appId: 'warren-api' });
  connection.onConnect(() => send({ t: 'state', connected: true }));
  connection.onDisconnect(() => send({ t: 'state', connected: false }));

  const batches = new Map<number, Batch>();
  const paced = createPace(data.bytesPerSecond, 256 * 1024);
  /** Outcomes per batch not sent yet: sent together once the confirms that arrived together are handled. */
  const outcomes = new Map<number, [number, ErrorData | null][]>();
  const report = (batch: number, index: number, error: ErrorData | null) => {
    let list = outcomes.get(batch);
    if (list === undefined) {
      list = [];
      outcomes.set(batch, list);
      if (outcomes.size === 1) {
        queueMicrotask(() => {
          for (const [b, l] of outcomes) send({ t: 'published', batch: b, outcomes: l });
          outcomes.clear();
        });
      }
    }
    list.push([index, error]);
  };

  async function prepare(batch: number, routeName: string, request: BatchRequest, body: ChunkQueue): Promise<void> {
    let invalid = 0;
    try {
      const route = submitter.route(routeName);
      const prepared = await prepareBatch({
        source: body,
        route,
        request,
        prepare: (r, payload, meta, text) => {
          try {
            return submitter.prepare(r, payload, meta, text);
          } catch (err) {
            invalid++;
            throw err;
          }
        },
        sliceMs: data.sliceMs,
        restMs: data.restMs,
      });
      const state = batches.get(batch);
      if (state === undefined) return; // aborted meanwhile
      state.jobs = prepared.items.map((p) => (p instanceof ApiError ? undefined : p));
      const items = prepared.items.map((p): BuiltJobData | { error: ApiErrorData } => {
        if (p instanceof ApiError) return { error: apiErrorData(p) };
        const payload = eventPayload(p.content, data.payloadBytes);
        return payload === undefined ? { id: p.id, routingKey: p.routingKey, bytes: p.content.length } : { id: p.id, routingKey: p.routingKey, bytes: p.content.length, eventPayload: payload };
      });
      send({ t: 'prepared', batch, invalid, result: { ok: true, mode: prepared.mode, bytes: prepared.bytes, items } });
    } catch (err) {
      if (!batches.has(batch)) return;
      batches.delete(batch);
      const apiError = err instanceof ApiError ? err : toApiError(err);
      if (apiError.status >= 500) logger.error({ err }, 'batch thread could not prepare a batch');
      send({ t: 'prepared', batch, invalid, result: { ok: false, error: apiErrorData(apiError) } });
    }
  }

  port.on('message', (message: ToBatchThread) => {
    switch (message.t) {
      case 'batch': {
        const body = new ChunkQueue();
        batches.set(message.batch, { body, jobs: undefined });
        void prepare(message.batch, message.route, message.request, body);
        return;
      }
      case 'chunk':
        batches.get(message.batch)?.body.push(message.chunk);
        return;
      case 'end':
        batches.get(message.batch)?.body.end();
        return;
      case 'abort': {
        const state = batches.get(message.batch);
        batches.delete(message.batch);
        state?.body.fail(new Error('the request thread gave up on this batch'));
        return;
      }
      case 'release':
        batches.delete(message.batch);
        return;
      case 'publish': {
        const jobs = batches.get(message.batch)?.jobs;
        for (const index of message.indexes) {
          const job = jobs?.[index];
          if (job === undefined) {
            report(message.batch, index, { code: 'BROKER_UNAVAILABLE', message: 'the batch thread no longer holds this job', details: null });
            continue;
          }
          paced(job.content.length).then(() => publisher.publish(job)).then(
            () => report(message.batch, index, null),
            (err: unknown) => report(message.batch, index, errorData(err)),
          );
        }
        return;
      }
      case 'close':
        void (async () => {
          await publisher.close().catch(() => undefined);
          await connection.close().catch(() => undefined);
          send({ t: 'closed' });
        })();
        return;
    }
  });
}

await main();
