import type { ConsumeMessage } from 'amqplib';
import type { ConfirmPublisher } from '../../broker/confirm-publisher.ts';
import { toAmqpTimestamp } from '../../jobs/amqp-timestamp.ts';
import { INDEX_MARKER_TYPE, decodeJobEvents } from '../../jobs/job-event-codec.ts';
import { signedEventProperties } from '../../jobs/job-event-publisher.ts';
import type { JobEventKeyring } from '../../jobs/job-event-signature.ts';
import type { Logger } from '../../observability/logger.ts';
import { checkpointProperties, encodeMarker, DEAD_LETTERS_CHECKPOINT_TYPE } from './checkpoint-codec.ts';
import { decodeDeadLetterCheckpoint, type DeadLetterCheckpoint, type DeadLetterStore } from './dead-letter-store.ts';
import { storedMessageVerdict } from './history-reads.ts';
import { messageAnchor } from './history-segment.ts';
import type { StreamReader } from './stream-reader.ts';

/**
 * Keeps the dead-letter store (dead-letter-store.ts) across restarts: every
 * `writeEveryMs` while it changed, and when the API stops, the store is
 * written to the checkpoint stream (topology `jobEvents.checkpointStream`) as
 * one signed, gzip'd message with the job-events offset it describes. When
 * the tail starts (boot, or a re-attach that lost its position) the newest
 * such checkpoint is read back and the job-events stream is replayed from its
 * offset to where the tail starts; meanwhile the store says it is not ready
 * (the groups route then counts by reading the queue). Without a checkpoint
 * (first start, no checkpoint stream) the replay starts at the stream's first
 * retained event.
 */
export interface DeadLetterCheckpoints {
  /** A record of the checkpoint stream read by the job history (its boot load, its follower): the newest checkpoint of this kind saves a search at boot. */
  offer(msg: ConsumeMessage, offset: number): void;
  /** The tail starts at `tailFrom`: bring the store up to `tailFrom - 1` (in the background). */
  onTailStart(tailFrom: number): void;
  /** Resolves once the store is ready (restored and replayed), false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /** How the last restore went (undefined before the first finished): from a checkpoint or not, and how many events it replayed. */
  lastRestore(): { fromCheckpoint: boolean; replayed: number; deadLetters: number; ms: number; loadMs: number } | undefined;
  /** Writes the store if it changed since the last write, then stops. */
  close(): Promise<void>;
}

/** Options of {@link createDeadLetterCheckpoints}. */
export interface DeadLetterCheckpointsOptions {
  store: DeadLetterStore;
  reader: StreamReader;
  publisher: Pick<ConfirmPublisher, 'publish'>;
  keys: JobEventKeyring;
  /** The job-events stream (replayed). */
  eventsStream: string;
  /** The checkpoint stream; undefined: none (every start replays the whole stream). */
  checkpointStream: string | undefined;
  /** Unsigned job-events messages below this offset are accepted (WARREN_EVENT_UNSIGNED_BEFORE). */
  unsignedBefore?: number;
  logger: Logger;
  /** @default 30000 */
  writeEveryMs?: number;
  /** @default 2000 */
  retryMs?: number;
}

/** Back-off of the search for the newest checkpoint: checkpoint records read back from the end. */
const LOOK_BACK = [64, 1_024, 16_384, Number.POSITIVE_INFINITY];

/** Creates the checkpoints and starts the periodic writes. */
export function createDeadLetterCheckpoints(options: DeadLetterCheckpointsOptions): DeadLetterCheckpoints {
  const { store, reader, keys, logger: log } = options;
  const retryMs = options.retryMs ?? 2_000;
  let closed = false;
  let written = -1;
  let writing: Promise<void> | undefined;
  let run = 0;
  let restored: { fromCheckpoint: boolean; replayed: number; deadLetters: number; ms: number; loadMs: number } | undefined;

  const accepted = (msg: ConsumeMessage, offset: number): boolean => storedMessageVerdict(keys, options.unsignedBefore, msg, offset) === 'valid';

  async function write(): Promise<void> {
    const stream = options.checkpointStream;
    const at = store.position();
    if (stream === undefined || !store.ready() || at === undefined || store.version() === written) return;
    const version = store.version();
    const content = store.encode();
    await options.publisher.publish({
      exchange: '',
      routingKey: stream,
      content,
      properties: { contentType: 'application/gzip', persistent: true, timestamp: toAmqpTimestamp(), ...signedEventProperties(keys, DEAD_LETTERS_CHECKPOINT_TYPE, content) },
    });
    written = version;
    log.debug({ deadLetters: store.size(), offset: at.offset, bytes: content.length }, 'wrote the dead-letter checkpoint');
  }

  function writeSoon(): Promise<void> {
    writing ??= write()
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not write the dead-letter checkpoint; retrying later'))
      .finally(() => {
        writing = undefined;
      });
    return writing;
  }

  const timer = setInterval(() => void writeSoon(), options.writeEveryMs ?? 30_000);
  timer.unref();

  // The newest checkpoint the job history's reads came across (it reads the checkpoint stream's end at boot).
  let offered: { offset: number; content: Buffer } | undefined;

  /** The newest checkpoint in the checkpoint stream (undefined: none, or no stream). */
  async function loadNewest(): Promise<DeadLetterCheckpoint | undefined> {
    const stream = options.checkpointStream;
    if (stream === undefined) return undefined;
    if (offered !== undefined) {
      const cp = decodeDeadLetterCheckpoint(offered.content);
      offered = undefined;
      if (cp !== undefined) return cp;
    }
    const markerId = `dead-letters-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const marker = encodeMarker(markerId);
    await options.publisher.publish({ exchange: '', routingKey: stream, content: marker, properties: checkpointProperties(keys, marker) });
    let end: number | undefined;
    let seen: number | undefined;
    // From the last chunk: the marker ends the read; when another writer started a newer chunk meanwhile, 'last' begins
    // past the marker, and the newest offset delivered (every record at or before it is a candidate) serves instead.
    await reader.read(
      stream,
      'last',
      (msg, offset) => {
        seen = Math.max(seen ?? offset, offset);
        if (msg.content.equals(marker)) {
          end = offset;
          return false;
        }
        return true;
      },
      { prefetch: 64, idleMs: 1_000 },
    );
    end ??= seen;
    if (end === undefined) throw new Error('the checkpoint stream delivered nothing from its last chunk');
    let to = end;
    for (const back of LOOK_BACK) {
      const from = Number.isFinite(back) ? Math.max(0, end - back) : 0;
      let found: { offset: number; content: Buffer } | undefined;
      const last = to;
      await reader.read(
        stream,
        from === 0 ? 'first' : from,
        (msg, offset) => {
          if (offset > last) return false;
          if (msg.properties.type === DEAD_LETTERS_CHECKPOINT_TYPE && accepted(msg, Number.NEGATIVE_INFINITY)) found = { offset, content: msg.content };
          return offset < last;
        },
        { prefetch: 64, idleMs: 10_000 },
      );
      if (found !== undefined) {
        const cp = decodeDeadLetterCheckpoint(found.content);
        if (cp !== undefined) return cp;
        log.warn({ offset: found.offset }, 'the newest dead-letter checkpoint does not decode; replaying the job-events stream instead');
        return undefined;
      }
      if (from === 0) break;
      to = from - 1;
    }
    return undefined;
  }

  /**
   * Replays job events after `start` (the checkpoint's message, which must
   * match `anchor`) or from the first retained one, up to `tailFrom - 1`.
   */
  async function replay(start: number | 'first', anchor: string | undefined, tailFrom: number): Promise<{ ok: boolean; last: { offset: number; anchor: string } | undefined; events: number }> {
    let lastOffset: number | undefined;
    let lastContent: Buffer | undefined;
    let events = 0;
    let ok = true;
    const stop = typeof start === 'number' ? Math.max(start, tailFrom - 1) : tailFrom - 1;
    if (stop < 0) return { ok, last: undefined, events };
    await reader.read(
      options.eventsStream,
      start,
      (msg, offset) => {
        if (offset > stop) return false;
        // A read may start at the beginning of the chunk that holds `start`: what lies before it is in the checkpoint.
        if (typeof start === 'number' && offset < start) return true;
        if (offset === start && anchor !== undefined) {
          // The checkpoint's own message: the checkpoint describes this stream only if it is the same message.
          if (messageAnchor(msg.content) !== anchor) ok = false;
          return ok && offset < stop;
        }
        if (offset < tailFrom) {
          if (msg.properties.type !== INDEX_MARKER_TYPE && accepted(msg, offset)) {
            for (const e of decodeJobEvents(msg.content).events) {
              store.replay(e);
              events++;
            }
          }
          lastOffset = offset;
          lastContent = msg.content;
        }
        return offset < stop;
      },
      { prefetch: 256, idleMs: 10_000 },
    );
    const last = lastOffset === undefined || lastContent === undefined ? undefined : { offset: lastOffset, anchor: messageAnchor(lastContent) };
    return { ok, last, events };
  }

  async function restore(tailFrom: number, mine: number): Promise<void> {
    const started = performance.now();
    // A re-attach goes on from what it holds (if the stream is the same one); a boot from the newest checkpoint.
    let from = store.position();
    let loadMs = 0;
    if (from === undefined) {
      const cp = await loadNewest();
      loadMs = Math.round(performance.now() - started);
      if (mine !== run) return;
      from = cp === undefined ? undefined : { offset: cp.offset, anchor: cp.anchor };
      store.load(cp?.records ?? [], from);
    }
    const done = (fromCheckpoint: boolean, replayed: number) => {
      restored = { fromCheckpoint, replayed, deadLetters: store.size(), ms: Math.round(performance.now() - started), loadMs };
      log.info({ deadLetters: store.size(), replayed, fromCheckpoint, ms: restored.ms }, 'dead-letter groups ready');
    };
    if (from !== undefined && from.offset >= tailFrom - 1) {
      // Nothing to replay (a restart: the tail starts at or before where the checkpoint ends): ready now, and the
      // checkpoint's own message is compared in the background; a recreated stream replays it all then.
      store.finishRestore(undefined);
      done(true, 0);
      void verify(from, mine);
      return;
    }
    let result = from === undefined ? await replay('first', undefined, tailFrom) : await replay(from.offset, from.anchor, tailFrom);
    if (!result.ok) {
      log.warn({ offset: from?.offset }, 'the dead-letter checkpoint describes an earlier job-events stream (it was recreated); replaying the stream');
      store.load([], undefined);
      from = undefined;
      result = await replay('first', undefined, tailFrom);
    }
    if (mine !== run) return;
    store.finishRestore(result.last);
    done(from !== undefined, result.events);
  }

  /** Checks that the checkpoint's message is still at its offset; if not, replays the stream up to where the store is (the tail held back meanwhile). */
  async function verify(at: { offset: number; anchor: string }, mine: number): Promise<void> {
    try {
      let same = true;
      await reader.read(
        options.eventsStream,
        at.offset,
        (msg, offset) => {
          if (offset < at.offset) return true;
          same = offset === at.offset && messageAnchor(msg.content) === at.anchor;
          return false;
        },
        { prefetch: 16, idleMs: 10_000 },
      );
      if (same || mine !== run || closed) return;
      log.warn({ offset: at.offset }, 'the dead-letter checkpoint describes an earlier job-events stream (it was recreated); replaying the stream');
      const upTo = store.offset();
      store.beginRestore();
      store.load([], undefined);
      const result = upTo === undefined ? { last: undefined } : await replay('first', undefined, upTo + 1);
      store.finishRestore(result.last);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not check the dead-letter checkpoint against the job-events stream');
    }
  }

  return {
    offer(msg, offset) {
      if (msg.properties.type !== DEAD_LETTERS_CHECKPOINT_TYPE || (offered !== undefined && offered.offset > offset) || !accepted(msg, Number.NEGATIVE_INFINITY)) return;
      offered = { offset, content: msg.content };
    },
    onTailStart(tailFrom) {
      const at = store.offset();
      if (store.ready() && at !== undefined && at + 1 === tailFrom) return;
      store.beginRestore();
      const mine = ++run;
      const attempt = (): void => {
        if (closed || mine !== run) return;
        restore(tailFrom, mine).catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'could not restore the dead-letter groups; retrying');
          setTimeout(attempt, retryMs).unref();
        });
      };
      attempt();
    },
    lastRestore: () => restored,
    waitUntilReady: (timeoutMs) => store.waitUntilReady(timeoutMs),
    async close() {
      closed = true;
      clearInterval(timer);
      await writing;
      await writeSoon();
    },
  };
}
