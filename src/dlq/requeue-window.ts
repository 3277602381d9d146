import type { ConsumeMessage, Options } from 'amqplib';
import type { ConfirmPublisher } from '../broker/confirm-publisher.ts';
import { isWarrenError, WarrenError } from '../errors/index.ts';
import type { RequeueJournal } from './requeue-journal.ts';
import type { SnapshotReader } from './snapshot-reader.ts';

/** One republish the window carries from "about to be sent" to "acked in the DLQ" (or failed). */
export interface WindowEntry<T = unknown> {
  message: ConsumeMessage;
  /** Journal key of the message. */
  key: string;
  exchange: string;
  routingKey: string;
  properties: Options.Publish;
  /** The caller's own data, handed back in the callbacks. */
  data: T;
}

/** Collaborators and callbacks of {@link createRequeueWindow}. */
export interface RequeueWindowOptions<T> {
  publisher: ConfirmPublisher;
  reader: SnapshotReader;
  journal: RequeueJournal;
  /** Unconfirmed publishes in flight at most. */
  size: number;
  /** Confirm deadline per publish. */
  publishTimeoutMs: number;
  /** Test hook: runs after the confirm, before the ack (the window then acks one message at a time). */
  beforeAck?: ((message: ConsumeMessage) => Promise<void> | void) | undefined;
  /** Confirmed and acked: the message left the DLQ. */
  onMoved(entry: WindowEntry<T>): void;
  /** Confirmed, but the DLQ ack could not be sent (channel gone): the journal drops the DLQ copy next run. */
  onUnacked(entry: WindowEntry<T>): void;
  /** The publish failed; the message stays in the DLQ. */
  onFailed(entry: WindowEntry<T>, err: unknown): void;
  /** After each batch of entries settled. */
  onSettled(): void;
}

/**
 * The confirm / ack window of a requeue: republishes in DLQ order on the caller's one
 * confirm channel, at most `size` unconfirmed at a time; each message is acked in the
 * DLQ only after the broker confirmed its copy (and the journal recorded that).
 *
 * The work per message is batched without weakening any of that: the publishes the
 * caller adds while it doesn't wait are journalled in one write and then sent; the
 * confirms that arrive together are journalled in one write and acked with one
 * `basic.ack(multiple)` when they are the oldest unacked deliveries (see
 * {@link SnapshotReader.ackAll}). The first publish to an exchange in a run goes
 * alone: should the broker close the channel over it (an exchange deleted or made
 * internal behind the topology's back), no other message shares its confirm window.
 */
export interface RequeueWindow<T> {
  /**
   * Takes one republish into the window; it is sent with the others added before the
   * caller next waits. Throws the window's {@link RequeueWindow.failure} once it has one. Returns a promise to await when the entry had to wait for room
   * (for an exchange without a confirm yet: for the whole window, then for its own
   * settlement), undefined when it was taken at once (no await per message).
   */
  add(entry: WindowEntry<T>): Promise<void> | undefined;
  /** Resolves once everything added has settled (moved, unacked or failed). */
  drain(): Promise<void>;
  /** Why the window stopped taking entries (`DLQ_JOURNAL_FAILED`: the journal could not be written), if it did. */
  failure(): WarrenError | undefined;
  /** An ack the caller sent itself (a DLQ copy an earlier run had delivered): forget its leftover entry once a sync proves the ack. */
  ackedLeftover(key: string): void;
  /** Waits for the acks sent so far to reach the broker, then forgets them in the journal. */
  syncJournal(): Promise<void>;
}

/** Publish errors after which the message is certainly not in its destination (safe to forget in the journal). */
function definitelyNotStored(err: unknown): boolean {
  return isWarrenError(err) && ['UNROUTABLE', 'PUBLISH_REJECTED', 'EXCHANGE_NOT_FOUND', 'PUBLISH_BACKPRESSURE'].includes(err.code);
}

/** Settled acks between two journal syncs at most (and at most a second apart). */
const SYNC_EVERY = 1000;
const SYNC_MS = 1000;

/** Creates the window of one requeue run. */
export function createRequeueWindow<T>(options: RequeueWindowOptions<T>): RequeueWindow<T> {
  const { publisher, reader, journal, beforeAck } = options;
  const size = Math.max(1, options.size);
  /** Exchanges that confirmed a publish in this run. */
  const proven = new Set<string>();
  /** Added, not settled (staged ones included). */
  let open = 0;
  let staged: Array<WindowEntry<T>> = [];
  let sendScheduled = false;
  let confirmed: Array<WindowEntry<T>> = [];
  let ackScheduled = false;
  /** Acks run one batch after another (a `beforeAck` hook makes a batch asynchronous). */
  let acking: Promise<void> = Promise.resolve();
  let waiters: Array<() => void> = [];
  let ackedSinceSync: string[] = [];
  let leftoversSinceSync: string[] = [];
  let lastSync = performance.now();
  let syncing: Promise<void> | undefined;
  let broken: WarrenError | undefined;

  function journalFailed(err: unknown, consequence: string): void {
    broken ??= new WarrenError('DLQ_JOURNAL_FAILED', `could not write the requeue journal${journal.file === undefined ? '' : ` ${journal.file}`}: ${(err as Error).message}; ${consequence}`, { cause: err });
  }

  function wake(): void {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  }
  async function until(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise<void>((r) => waiters.push(r));
  }
  function settled(n: number): void {
    open -= n;
    options.onSettled();
    wake();
  }

  function send(): void {
    sendScheduled = false;
    const batch = staged;
    staged = [];
    if (batch.length === 0) return;
    // The DLQ copies could no longer be acked: send nothing we would leave in both places.
    if (reader.lostWith()) {
      settled(batch.length);
      return;
    }
    try {
      journal.published(batch.map((e) => e.key));
    } catch (err) {
      // Write-ahead: nothing leaves that the journal doesn't know about.
      journalFailed(err, `${batch.length} messages were not sent and stay in the DLQ`);
      settled(batch.length);
      return;
    }
    for (const entry of batch) {
      publisher
        .publish({ exchange: entry.exchange, routingKey: entry.routingKey, content: entry.message.content, properties: entry.properties, timeoutMs: options.publishTimeoutMs })
        .then(
          () => {
            proven.add(entry.exchange);
            confirmed.push(entry);
            if (!ackScheduled) {
              ackScheduled = true;
              // Confirms that arrive together (one read from the socket, a `multiple` confirm) settle as one batch.
              setImmediate(() => {
                ackScheduled = false;
                acking = acking.then(ackConfirmed);
              });
            }
          },
          (err: unknown) => {
            if (definitelyNotStored(err)) journal.abandon(entry.key);
            options.onFailed(entry, err);
            settled(1);
          },
        );
    }
  }

  function scheduleSend(): void {
    if (sendScheduled) return;
    sendScheduled = true;
    // Everything the caller adds before it next waits (for the reader, a slot, the rate limit) goes out as one batch.
    setImmediate(send);
  }

  async function ackConfirmed(): Promise<void> {
    const batch = confirmed;
    confirmed = [];
    if (batch.length === 0) return;
    try {
      journal.confirmed(batch.map((e) => e.key));
    } catch (err) {
      // No ack the journal can't vouch for: these stay in the DLQ too, like after a crash.
      journalFailed(err, `${batch.length} messages confirmed in their destination were not acked and stay in the DLQ as well (the next run sends them again)`);
      settled(batch.length);
      return;
    }
    if (beforeAck) {
      for (const entry of batch) {
        await beforeAck(entry.message);
        finishAck([entry], reader.ackAll([entry.message]));
      }
    } else {
      finishAck(batch, reader.ackAll(batch.map((e) => e.message)));
    }
    settled(batch.length);
    if (ackedSinceSync.length >= SYNC_EVERY || performance.now() - lastSync > SYNC_MS) void syncJournal().catch(() => undefined);
  }

  function finishAck(batch: Array<WindowEntry<T>>, acked: boolean): void {
    for (const entry of batch) {
      if (acked) {
        ackedSinceSync.push(entry.key);
        options.onMoved(entry);
      } else {
        options.onUnacked(entry);
      }
    }
  }

  async function syncJournal(): Promise<void> {
    // One sync at a time; the reader keeps going meanwhile (settle forgets only the keys it proved).
    if (syncing) return syncing;
    const keys = ackedSinceSync;
    const leftovers = leftoversSinceSync;
    ackedSinceSync = [];
    leftoversSinceSync = [];
    lastSync = performance.now();
    syncing = reader
      .sync()
      .then(
        () => {
          for (const key of leftovers) journal.forget(key);
          journal.settle(keys);
        },
        (err: unknown) => {
          // Not proven: the entries stay in the journal (a later sync may prove them).
          ackedSinceSync = keys.concat(ackedSinceSync);
          leftoversSinceSync = leftovers.concat(leftoversSinceSync);
          throw err;
        },
      )
      .finally(() => {
        syncing = undefined;
      });
    return syncing;
  }

  async function alone(entry: WindowEntry<T>): Promise<void> {
    if (open > 0) {
      send();
      await until(() => open === 0);
      if (broken) throw broken;
    }
    open++;
    staged.push(entry);
    send();
    await until(() => open === 0);
  }

  async function afterRoom(entry: WindowEntry<T>): Promise<void> {
    send();
    await until(() => open < size);
    if (broken) throw broken;
    open++;
    staged.push(entry);
    scheduleSend();
  }

  return {
    add(entry) {
      if (broken) throw broken;
      if (!proven.has(entry.exchange)) return alone(entry);
      if (open >= size) return afterRoom(entry);
      open++;
      staged.push(entry);
      scheduleSend();
      return undefined;
    },
    async drain() {
      send();
      await until(() => open === 0);
      await acking;
    },
    failure: () => broken,
    ackedLeftover(key) {
      leftoversSinceSync.push(key);
    },
    async syncJournal() {
      // A sync already running may have started before the last acks: wait for it, then prove the rest.
      await syncing?.catch(() => undefined);
      await syncJournal();
    },
  };
}
