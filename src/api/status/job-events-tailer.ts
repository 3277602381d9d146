import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConnection } from '../../broker/broker-connection.ts';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { HEADERS } from '../../jobs/headers.ts';
import type { JobEvent } from '../../jobs/job-event.ts';
import { jobEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventKeyring, SignatureVerdict } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import type { StreamStart } from './stream-reader.ts';
import { INDEX_MARKER_TYPE, decodeJobEvents } from '../../jobs/job-event-codec.ts';
import { JOB_PAYLOADS_TYPE } from '../../jobs/job-event-payload.ts';
import type { JobStatusIndex } from './job-status-index.ts';

/** Reads the job-events stream into the status index, from the first retained event on boot. */
export interface JobEventsTailer {
  /** Offset of the last event read (undefined before the first). */
  lastOffset(): number | undefined;
  /** Events applied since start (tests, diagnostics). */
  applied(): number;
  /** Messages skipped because their signature was missing or wrong, since start. */
  rejected(): number;
  /** Entries of accepted messages that were not job events (skipped), since start. */
  malformed(): number;
  /** False while the stream is missing (deleted under the API, or never declared). */
  isAttached(): boolean;
  close(): Promise<void>;
}

/** Where a tail starts, decided by whoever knows the history (job-history.ts). */
export interface TailStart {
  offset: StreamStart;
  /** A catch-up marker the caller already appended: the index is caught up once the tail reads it (no marker of the tailer's own). */
  markerId?: string;
}

/** Options of {@link createJobEventsTailer}. */
export interface JobEventsTailerOptions {
  connection: BrokerConnection;
  /** Publishes this replica's catch-up marker to the job-events exchange. */
  publisher: Pick<ConfirmPublisher, 'publish'>;
  index: JobStatusIndex;
  /** Job-events fanout exchange (topology `jobEvents.exchange`). */
  exchange: string;
  /**
   * The deployment's event keys: messages whose signature does not verify are
   * skipped and counted (anyone who can write to the exchange could otherwise
   * rewrite a job's status); the replica's marker is signed with it.
   */
  keys: JobEventKeyring;
  /**
   * Accept unsigned messages below this stream offset (history written before
   * the upgrade to signed events; WARREN_EVENT_UNSIGNED_BEFORE). Offsets are
   * assigned by the broker, so nothing written later can fall below it. @default none
   */
  unsignedBefore?: number;
  /** Called for each message skipped for its signature (a metric). */
  onRejected?: (reason: Exclude<SignatureVerdict, 'valid'>) => void;
  /** Job-events stream queue (topology `jobEvents.stream`). */
  stream: string;
  logger: Logger;
  /** Unacked messages the broker may push (streams require a prefetch). @default 1000 */
  prefetch?: number;
  /** Delay before trying again when the stream is missing or the channel failed. @default 2000 */
  retryMs?: number;
  /**
   * This API process's id (the job-event batcher's `replicaId`). Messages
   * carrying it were written by this process after it applied their events to
   * the index itself, so they are not decoded and applied a second time. A new
   * process has a new id: on boot every message is replayed.
   */
  replicaId?: string;
  /**
   * Where to attach when the tail has no position yet: at boot, and after the
   * stream went missing (deleted and recreated, or only its consumer cancelled
   * or refused with NOT_FOUND while a cluster restarts). `resumeAfter` is the
   * last offset the tail applied before it lost the stream: when the stream is
   * still the same one, the tail must go on right after it, or the index would
   * keep records that miss the events in between. Rejecting means "not now":
   * the tail retries. @default 'first', with a marker of its own
   */
  startAt?: (resumeAfter: number | undefined) => Promise<TailStart>;
  /**
   * For an event of a job the index does not hold: true when the stream may
   * hold older events of that job than this message (the record then starts
   * incomplete and is completed from the stream when read).
   */
  mayHaveHistory?: (event: JobEvent, offset: number) => boolean;
  /** Called after each event the tail applied to the index. */
  onApplied?: (event: JobEvent) => void;
  /** Called for every message after it was handled (`accepted`: its events count; `own`: written by this replica). */
  onMessage?: (msg: ConsumeMessage, offset: number, accepted: boolean) => void;
  /** The stream disappeared under the tail (deleted); it re-attaches through `startAt` once it exists again. */
  onStreamMissing?: () => void;
  /** Called with the number of entries of an accepted message that were not valid job events. */
  onMalformed?: (entries: number) => void;
}

/**
 * Tails the stream with `x-stream-offset: first` on boot and resumes after the
 * last offset read on every reconnect, so a replica converges to the same
 * index as every other replica. To know when the boot replay is done, the
 * replica appends a marker message and reports caught up when it reads it back:
 * everything before the marker was in the stream when the replica started.
 */
export function createJobEventsTailer(options: JobEventsTailerOptions): JobEventsTailer {
  const prefetch = options.prefetch ?? 1000;
  const retryMs = options.retryMs ?? 2_000;
  let markerId: string = randomUUID();
  let ownMarker = true;
  let malformed = 0;
  let attached = false;
  let lost = false;
  const log = options.logger;
  let last: number | undefined;
  // The position held when the stream went missing, offered to startAt (see there).
  let resumeAfter: number | undefined;
  let applied = 0;
  let rejected = 0;
  let rejectedUnsigned = 0;
  let lastRejectLog = 0;
  let sawSigned = false;
  let closed = false;
  let channel: Channel | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let markerPublished = false;
  let markerRunning = false;
  let warnedMissing = false;

  function scheduleRetry(): void {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      const conn = options.connection.current();
      if (conn && !channel) subscribe(conn).catch(() => undefined);
    }, retryMs);
  }

  async function publishMarker(): Promise<void> {
    if (!ownMarker || markerPublished || markerRunning || closed) return;
    markerRunning = true;
    try {
      while (!closed && !markerPublished) {
        try {
          const content = Buffer.from(JSON.stringify({ marker: markerId, at: new Date().toISOString() }));
          await options.publisher.publish({
            exchange: options.exchange,
            routingKey: '',
            content,
            properties: { ...jobEventProperties(options.keys, INDEX_MARKER_TYPE, content), messageId: markerId },
          });
          markerPublished = true;
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'could not append the status index marker; retrying');
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    } finally {
      markerRunning = false;
    }
  }

  /** Verdict on one message: accepted (signed by this deployment, or old enough to predate signing) or the reason it is skipped. */
  function check(msg: ConsumeMessage, offset: number | undefined): SignatureVerdict {
    const verdict = options.keys.verify(msg.properties.type as string | undefined, msg.content, msg.properties.headers?.[HEADERS.eventSignature]);
    if (verdict === 'valid') {
      if (!sawSigned && rejectedUnsigned > 0) {
        log.warn(
          { offset, skipped: rejectedUnsigned },
          `the job-events stream holds unsigned messages before its first signed one (written before the upgrade to signed events?); they were skipped. To keep their history, set WARREN_EVENT_UNSIGNED_BEFORE=${offset ?? '<offset>'} on the API`,
        );
      }
      sawSigned = true;
      return verdict;
    }
    if (verdict === 'unsigned' && options.unsignedBefore !== undefined && offset !== undefined && offset < options.unsignedBefore) return 'valid';
    rejected++;
    if (verdict === 'unsigned') rejectedUnsigned++;
    options.onRejected?.(verdict);
    const now = Date.now();
    if (now - lastRejectLog > 10_000) {
      lastRejectLog = now;
      log.warn(
        { offset, reason: verdict, type: msg.properties.type, appId: msg.properties.appId, rejected },
        'skipped a job-events message that warren did not sign (forged, or written with another WARREN_EVENT_KEY); job status ignores it',
      );
    }
    return verdict;
  }

  async function subscribe(conn: ChannelModel): Promise<void> {
    if (closed || channel) return;
    let ch: Channel;
    try {
      ch = await conn.createChannel();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not open the job-events channel; retrying');
      scheduleRetry();
      return;
    }
    channel = ch;
    let pendingAck: ConsumeMessage | undefined;
    let unacked = 0;
    let ackScheduled = false;
    const ackNow = () => {
      ackScheduled = false;
      if (pendingAck === undefined || channel !== ch) return;
      try {
        ch.ack(pendingAck, true);
      } catch {
        // Channel already closed; the next subscription starts after `last` anyway.
      }
      pendingAck = undefined;
      unacked = 0;
    };
    ch.on('error', (err: Error) => {
      if (/NOT_FOUND/.test(err.message)) {
        streamLost();
        if (!warnedMissing) log.warn({ stream: options.stream }, 'job-events stream does not exist (topology not applied, or deleted?); retrying');
        warnedMissing = true;
      } else {
        log.warn({ err: err.message }, 'job-events channel error');
      }
    });
    ch.on('close', () => {
      if (channel === ch) channel = undefined;
      attached = false;
      // A channel-level failure leaves the connection up: try again. After a disconnect, onConnect resubscribes.
      if (options.connection.current() === conn) scheduleRetry();
    });
    try {
      await ch.prefetch(prefetch);
      let offset: StreamStart;
      if (last !== undefined) offset = last + 1;
      else if (options.startAt) {
        // `resumeAfter` stays until the tail has read again (streamLost replaces it then): a consume refused after
        // this (NOT_FOUND while a cluster restarts) must offer the same position to the next startAt, or the tail
        // re-attaches without it. startAt goes on after it only when the stream still holds that very message.
        const start = await options.startAt(resumeAfter);
        offset = start.offset;
        if (start.markerId !== undefined) {
          markerId = start.markerId;
          ownMarker = false;
        }
      } else offset = 'first';
      if (closed || channel !== ch) {
        ch.close().catch(() => undefined);
        return;
      }
      await ch.consume(
        options.stream,
        (msg) => {
          if (msg === null) {
            // Cancelled by the broker (stream deleted): subscribe again later, from where startAt says.
            streamLost();
            ch.close().catch(() => undefined);
            return;
          }
          const off = msg.properties.headers?.['x-stream-offset'];
          const offset = typeof off === 'number' ? off : undefined;
          if (offset !== undefined) last = offset;
          if (msg.properties.type === INDEX_MARKER_TYPE) {
            if (msg.properties.messageId === markerId && !options.index.isCaughtUp() && check(msg, offset) === 'valid') {
              options.index.markCaughtUp();
              log.info({ jobs: options.index.size(), events: applied, rejected }, 'status index caught up with the job-events stream');
            }
            if (offset !== undefined) options.onMessage?.(msg, offset, false);
          } else {
            const own = options.replicaId !== undefined && msg.properties.headers?.[HEADERS.replica] === options.replicaId;
            const accepted = own || check(msg, offset) === 'valid';
            // Payloads (job-event-payload.ts) are read on demand only: the tail counts them into the history, unread.
            if (accepted && !own && msg.properties.type !== JOB_PAYLOADS_TYPE) {
              const { events, invalid } = decodeJobEvents(msg.content);
              if (invalid > 0) {
                malformed += invalid;
                options.onMalformed?.(invalid);
              }
              const probe = options.mayHaveHistory;
              for (const e of events) {
                if (probe !== undefined && offset !== undefined && !options.index.has(e.jobId)) options.index.apply(e, { complete: !probe(e, offset) });
                else options.index.apply(e);
                options.onApplied?.(e);
              }
              applied += events.length;
            }
            if (offset !== undefined) options.onMessage?.(msg, offset, accepted);
          }
          pendingAck = msg;
          unacked++;
          // Streams only need acks as credit: one cumulative ack per batch or per tick.
          if (unacked >= prefetch / 2) ackNow();
          else if (!ackScheduled) {
            ackScheduled = true;
            setImmediate(ackNow);
          }
        },
        { noAck: false, arguments: { 'x-stream-offset': offset } },
      );
      warnedMissing = false;
      attached = true;
      lost = false;
      log.debug({ stream: options.stream, offset }, 'tailing job-events stream');
      if (!options.index.isCaughtUp()) void publishMarker();
    } catch (err) {
      if (channel === ch) channel = undefined;
      if (/NOT_FOUND/.test((err as Error).message)) streamLost();
      else log.warn({ err: (err as Error).message }, 'could not tail the job-events stream; retrying');
      ch.close().catch(() => undefined);
      scheduleRetry();
    }
  }

  /** The stream is gone: forget the position (a recreated stream numbers its offsets from 0 again). */
  function streamLost(): void {
    attached = false;
    if (lost) return;
    lost = true;
    if (last !== undefined) resumeAfter = last;
    last = undefined;
    if (options.startAt) options.onStreamMissing?.();
  }

  const unsubscribe = options.connection.onConnect((conn) => {
    channel = undefined;
    return subscribe(conn);
  });

  return {
    lastOffset: () => last,
    applied: () => applied,
    rejected: () => rejected,
    malformed: () => malformed,
    isAttached: () => attached,
    async close() {
      closed = true;
      unsubscribe();
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      const ch = channel;
      channel = undefined;
      if (ch) await ch.close().catch(() => undefined);
    },
  };
}
