import { Worker } from 'node:worker_threads';
import type { Topology } from '../../config/topology-schema.ts';
import { BrokerUnavailableError } from '../../errors/index.ts';
import type { CompiledRoute } from '../../jobs/route-catalog.ts';
import type { Logger } from '../../observability/logger.ts';
import type { ApiError } from '../api-error.ts';
import { bodyReadError } from '../http/batch-body.ts';
import type { BatchRequest, PreparedBatch } from '../jobs/batch-preparation.ts';
import type { ApiJob, PublisherLike } from '../jobs/job-submitter.ts';
import { apiErrorFromData, errorFromData, type FromBatchThread, type ToBatchThread } from './batch-thread-protocol.ts';
import type { BatchThreadData } from './batch-thread-worker.ts';
import { createPace } from '../../util/pace.ts';

/**
 * POST /v1/jobs/{route}/batch with the work done off the request thread.
 *
 * A 16 MiB batch is a second of CPU (parsing 1000 jobs, validating each against
 * its schema, building and framing 16 MiB of messages, writing them to the broker)
 * and every other request of the API waited behind its slices of it: other keys'
 * single jobs had their p99 doubled and more (issue #10). Here the request thread
 * only hands the body's bytes over as they arrive; a worker thread with its own
 * broker connection parses, validates, builds and publishes. The request thread
 * keeps everything that is shared state (the idempotency guard, the status index,
 * the job events, the metrics): it asks the thread to publish a job and hears
 * back when the broker confirmed it, so a batch answers exactly as before.
 */

/** A batch prepared in the thread: its jobs stand in for the messages the thread holds. */
export interface RemoteBatch extends PreparedBatch {
  /** Size of a job's message (its stand-in has no body). */
  bytesOf(job: ApiJob): number;
  /** Drops the batch's messages in the thread (call once the request is answered). */
  release(): void;
}

/** The request thread's side of the batch thread. */
export interface BatchThread {
  /**
   * Hands the body over as it is read and resolves once the thread has checked it and built
   * every job; rejects with the ApiError the body or its mode deserves (as prepareBatch).
   */
  prepare(route: CompiledRoute, request: BatchRequest, source: AsyncIterable<Uint8Array> | null, hooks?: PrepareHooks): Promise<RemoteBatch>;
  /** Publishes a prepared batch's job (the stand-ins only) and resolves on the broker's confirm. */
  publisher: PublisherLike;
  /** The thread's broker connection is up, or the thread has not started yet (see start()). */
  isConnected(): boolean;
  /** Starts the thread now rather than with the first batch (it connects in the background); a no-op once started. */
  start(): void;
  close(): Promise<void>;
}

/** Told while a batch is prepared. */
export interface PrepareHooks {
  /** The body's size, once it is read (before it is checked). */
  onRead?: (bytes: number) => void;
  /** How many of its jobs failed validation, once they are checked (also when the whole batch is refused). */
  onInvalid?: (count: number) => void;
}

/** Options of {@link createBatchThread}. */
export interface BatchThreadOptions {
  topology: Topology;
  /** Where `consumers/schemas/*` are, for a topology loaded from a file; undefined: the built-in schemas only. */
  consumersDir: string | undefined;
  /** Bytes of a job's body its `queued` event carries (topology jobEvents.payloadBytes). */
  payloadBytes: number;
  /** Log level and format of the thread's own lines. */
  logLevel: string;
  logFormat: string | undefined;
  logger: Logger;
  /** Connection name shown in the management UI. @default warren-api-batch-<pid> */
  connectionName?: string;
  /**
   * How fast batches go through, at most (all of them together): body bytes read per second, and
   * message bytes published per second (WARREN_API_BATCH_PACE). A batch is background work: 16 MiB of
   * it at full speed took every core of a 2-core machine for a second, and other keys' requests,
   * which cross the API, the broker and back, waited at each hop. One key sends at most
   * WARREN_API_BATCH_BYTES_PER_SECOND anyway. @default 8 MiB
   */
  bytesPerSecond?: number;
  /** A thread that exited is started again after this long; batches sent meanwhile are answered 503 at once. @default 1000 */
  restartMs?: number;
}

/** Body bytes handed over at a time (each hand-over is one copy and one message). */
const HANDOVER_BYTES = 256 * 1024;
/**
 * Parsing works 4 ms at a time and rests 12 ms: a quarter of a core at most (see BatchThreadOptions.bytesPerSecond).
 */
const PARSE_SLICE_MS = 4;
const PARSE_REST_MS = 12;

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface BatchState {
  prepared: Waiter<RemoteBatch>;
  hooks: PrepareHooks | undefined;
  route: CompiledRoute;
  request: BatchRequest;
  publishes: Map<number, Waiter<void>>;
  /** Indexes asked to be published this tick (sent together). */
  queued: number[];
}

/**
 * The thread: the compiled .js beside this file, or (tests, under tsx or vitest) the .ts source with
 * tsx's loader registered in the thread first (a worker's `--import tsx` comes too late for its entry).
 */
function spawnWorker(data: BatchThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./batch-thread-worker.js', import.meta.url), { workerData: data });
  // tsx's public register API, resolved from here by its package exports (its ES module entry).
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./batch-thread-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: data });
}

/**
 * The batch thread, started by `start()` (startApi calls it at boot by default) or else with the first
 * batch (a replica that never gets one then has no thread and no connection for it); it connects in the
 * background, and what a batch hands over before that waits in the thread meanwhile.
 */
export function createBatchThread(options: BatchThreadOptions): BatchThread {
  const { logger } = options;
  const data: BatchThreadData = {
    topology: options.topology,
    consumersDir: options.consumersDir,
    payloadBytes: options.payloadBytes,
    logLevel: options.logLevel,
    logFormat: options.logFormat,
    connectionName: options.connectionName ?? `warren-api-batch-${process.pid}`,
    sliceMs: PARSE_SLICE_MS,
    restMs: PARSE_REST_MS,
    bytesPerSecond: options.bytesPerSecond ?? 8 * 1024 * 1024,
  };
  const readPace = createPace(data.bytesPerSecond, HANDOVER_BYTES);
  const restartMs = options.restartMs ?? 1_000;
  const batches = new Map<number, BatchState>();
  const jobs = new WeakMap<object, { batch: number; index: number; bytes: number }>();
  let nextBatch = 1;
  let connected = false;
  let closing = false;
  /** Undefined until the thread is first started (start() or the first batch). */
  let worker: Worker | undefined;
  /** False from the thread's exit until it is started again (restartMs): nothing may be handed to the one that is gone. */
  let alive = false;
  let closed: (() => void) | undefined;

  function start(): void {
    worker = spawnWorker(data);
    alive = true;
    worker.on('message', onMessage);
    // Followed by 'exit', which answers what the thread held and starts it again.
    worker.on('error', (err) => logger.error({ err }, 'batch thread failed'));
    worker.on('exit', (code) => {
      alive = false;
      connected = false;
      closed?.();
      // Whatever the thread held is gone: the requests waiting on it answer 503 (a job may or may not be stored).
      const gone = new BrokerUnavailableError('the API batch thread stopped before the broker confirmed the job; it may not be stored');
      for (const state of batches.values()) {
        state.prepared.reject(gone);
        for (const w of state.publishes.values()) w.reject(gone);
      }
      batches.clear();
      if (closing) return;
      logger.error({ code }, `batch thread exited; starting it again in ${restartMs} ms`);
      setTimeout(() => {
        if (!closing) start();
      }, restartMs).unref();
    });
  }

  function post(message: ToBatchThread, transfer?: ArrayBuffer[]): void {
    worker?.postMessage(message, transfer);
  }

  function ensureStarted(): void {
    if (worker === undefined && !closing) start();
  }

  function onMessage(message: FromBatchThread): void {
    switch (message.t) {
      case 'state':
        connected = message.connected;
        return;
      case 'closed':
        closed?.();
        return;
      case 'prepared': {
        const state = batches.get(message.batch);
        if (state === undefined) return;
        if (message.invalid > 0) state.hooks?.onInvalid?.(message.invalid);
        if (!message.result.ok) {
          batches.delete(message.batch);
          state.prepared.reject(apiErrorFromData(message.result.error));
          return;
        }
        const { route, request } = state;
        const batch = message.batch;
        const items: (ApiJob | ApiError)[] = message.result.items.map((item, index) => {
          if ('error' in item) return apiErrorFromData(item.error);
          const job: ApiJob = {
            id: item.id,
            route: route.name,
            exchange: route.exchange,
            routingKey: item.routingKey,
            content: EMPTY,
            properties: {},
            timeoutMs: route.publishTimeoutMs,
            meta: {
              id: item.id,
              owner: request.meta.owner,
              traceparent: '',
              correlationId: request.meta.correlationId ?? item.id,
              idempotent: request.meta.idempotent,
              ...(item.eventPayload === undefined ? {} : { eventPayload: item.eventPayload }),
            },
          };
          jobs.set(job, { batch, index, bytes: item.bytes });
          return job;
        });
        state.prepared.resolve({
          mode: message.result.mode,
          items,
          bytes: message.result.bytes,
          bytesOf: (job) => jobs.get(job)?.bytes ?? job.content.length,
          release: () => {
            if (batches.delete(batch)) post({ t: 'release', batch });
          },
        });
        return;
      }
      case 'published': {
        const state = batches.get(message.batch);
        if (state === undefined) return;
        for (const [index, error] of message.outcomes) {
          const w = state.publishes.get(index);
          if (w === undefined) continue;
          state.publishes.delete(index);
          if (error === null) w.resolve();
          else w.reject(errorFromData(error));
        }
        return;
      }
    }
  }

  /** Reads the body and hands it over; resolves with its size. */
  async function handOver(batch: number, source: AsyncIterable<Uint8Array> | null): Promise<number> {
    let bytes = 0;
    let parts: Buffer[] = [];
    let partBytes = 0;
    const flush = () => {
      if (partBytes === 0) return;
      // A buffer of its own (never a slice of a shared pool), so that it can be transferred, not copied again.
      const chunk = Buffer.allocUnsafeSlow(partBytes);
      let at = 0;
      for (const p of parts) at += p.copy(chunk, at);
      post({ t: 'chunk', batch, chunk }, [chunk.buffer as ArrayBuffer]);
      parts = [];
      partBytes = 0;
    };
    if (source !== null) {
      for await (const piece of source) {
        const b = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        parts.push(b);
        partBytes += b.length;
        bytes += b.length;
        if (partBytes >= HANDOVER_BYTES) {
          flush();
          // Not read further until the pace allows: the client's upload waits in the socket meanwhile.
          await readPace(HANDOVER_BYTES);
        }
      }
    }
    flush();
    post({ t: 'end', batch });
    return bytes;
  }

  return {
    async prepare(route, request, source, hooks) {
      ensureStarted();
      // A message to an exited thread goes nowhere: the batch would wait for an answer that never comes.
      if (!alive) throw new BrokerUnavailableError('the API batch thread stopped and is starting again; retry shortly');
      const batch = nextBatch++;
      let prepared!: Waiter<RemoteBatch>;
      const result = new Promise<RemoteBatch>((resolve, reject) => {
        prepared = { resolve, reject };
      });
      // Handled below, after the body is read: a rejection meanwhile must not count as unhandled.
      result.catch(() => undefined);
      batches.set(batch, { prepared, hooks, route, request, publishes: new Map(), queued: [] });
      post({ t: 'batch', batch, route: route.name, request });
      let bytes: number;
      try {
        bytes = await handOver(batch, source);
      } catch (err) {
        if (batches.delete(batch)) post({ t: 'abort', batch });
        throw bodyReadError(err);
      }
      hooks?.onRead?.(bytes);
      return result;
    },

    publisher: {
      isReady: () => connected,
      publish(request) {
        const ref = jobs.get(request);
        const state = ref === undefined ? undefined : batches.get(ref.batch);
        if (ref === undefined || state === undefined) return Promise.reject(new BrokerUnavailableError('the batch this job belongs to is no longer held by the batch thread'));
        return new Promise<void>((resolve, reject) => {
          state.publishes.set(ref.index, { resolve, reject });
          // The publishes asked for in one go (a window of them) cross to the thread in one message.
          if (state.queued.push(ref.index) === 1) {
            queueMicrotask(() => {
              if (batches.get(ref.batch) !== state) return;
              post({ t: 'publish', batch: ref.batch, indexes: state.queued });
              state.queued = [];
            });
          }
        });
      },
    },

    isConnected: () => worker === undefined || connected,

    start: ensureStarted,

    async close() {
      if (closing) return;
      closing = true;
      const running = worker;
      if (running === undefined) return;
      const stopped = new Promise<void>((resolve) => {
        closed = resolve;
      });
      post({ t: 'close' });
      const force = setTimeout(() => void running.terminate(), 5_000);
      await stopped;
      clearTimeout(force);
      await running.terminate();
    },
  };
}

const EMPTY = Buffer.alloc(0);
