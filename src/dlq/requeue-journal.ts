import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MessageProperties } from 'amqplib';
import { HEADERS } from '../jobs/headers.ts';
import { headerString } from '../jobs/header-values.ts';

/**
 * A small write-ahead journal that closes the gap between "the origin confirmed
 * the republish" and "the DLQ received our ack". A process killed (or a
 * connection lost) in that gap leaves the message in both places; the journal
 * lets the next run recognise the DLQ copy and drop it instead of sending it
 * a second time.
 *
 * Per message: `p <key>` before the publish, `c <key>` once it is confirmed,
 * then the ack. A batch of publishes (or of confirms) is one append: the lines
 * are in the file before the first publish (ack) of the batch leaves. `settle(keys)` (after a round trip on the consuming channel
 * proved the broker processed those acks) forgets them. What is left after a
 * crash: `c` entries (in the origin, maybe still in the DLQ: dropped on the
 * next run when seen redelivered) and `p` entries without `c` (outcome unknown:
 * republished on the next run and reported as possible duplicates).
 */
export interface RequeueJournal {
  /** Where the journal lives (for messages), or undefined for an in-memory one. */
  readonly file: string | undefined;
  /** Entries an earlier run left: `confirmed` (in the origin already) or `published` (outcome unknown). */
  leftover(key: string): 'confirmed' | 'published' | undefined;
  /** Forgets a leftover entry once handled. */
  forget(key: string): void;
  /** Records that the publishes of `keys` are about to be sent (one write for the batch). */
  published(keys: readonly string[]): void;
  /** Records that the broker confirmed the publishes of `keys` (one write for the batch). */
  confirmed(keys: readonly string[]): void;
  /** The publish of `key` definitely failed (nack, unroutable): nothing to remember. */
  abandon(key: string): void;
  /** The acks of these keys reached the broker: forget them. */
  settle(keys: Iterable<string>): void;
  /** Number of leftover entries still unseen. */
  leftoverCount(): number;
  /** A run read the whole queue: leftovers it didn't meet are no longer in it. */
  dropLeftovers(): void;
}
/** The dedupe key of a dead letter: stable across redeliveries (ignores the redelivered flag and x-delivery-count). */
export function dedupeKey(message: { content: Buffer; properties: MessageProperties }): string {
  const h = (message.properties.headers ?? {}) as Record<string, unknown>;
  const death = Array.isArray(h['x-death']) ? (h['x-death'][0] as Record<string, unknown> | undefined) : undefined;
  // One string, one update: the same digest as hashing the parts one by one (keys in journals of earlier versions still match).
  let text = `${headerString(message.properties.messageId) ?? ''}\0${String(h[HEADERS.requeued] ?? 0)}\0${headerString(h[HEADERS.failedAt]) ?? ''}`;
  if (death) text += '\0' + JSON.stringify([death['queue'], death['reason'], death['count'], death['time']]);
  return createHash('sha1').update(text + '\0').update(message.content).digest('hex');
}

/** Default journal file of a queue: `$XDG_STATE_HOME/warren/dlq/<vhost>/<queue>.journal`. */
export function defaultJournalPath(vhost: string, queue: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state');
  return join(base, 'warren', 'dlq', encodeURIComponent(vhost), `${encodeURIComponent(queue)}.journal`);
}

function load(file: string): Map<string, 'confirmed' | 'published'> {
  const out = new Map<string, 'confirmed' | 'published'>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [op, key] = line.split(' ');
    if (key === undefined || key === '') continue;
    if (op === 'c') out.set(key, 'confirmed');
    else if (op === 'p' && out.get(key) !== 'confirmed') out.set(key, 'published');
  }
  return out;
}

type Entries = Map<string, 'confirmed' | 'published'>;

/** A journal in a file (created on first write; removed when nothing is left). */
export function createFileJournal(file: string): RequeueJournal {
  const left: Entries = load(file);
  const run: Entries = new Map();
  let created = false;
  function rewrite(): void {
    const all = new Map([...left, ...run]);
    if (all.size === 0) {
      rmSync(file, { force: true });
      return;
    }
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, [...all].map(([k, s]) => `${s === 'confirmed' ? 'c' : 'p'} ${k}\n`).join(''));
    renameSync(tmp, file);
  }
  function append(op: 'p' | 'c', keys: readonly string[]): void {
    if (keys.length === 0) return;
    if (!created) {
      mkdirSync(dirname(file), { recursive: true });
      created = true;
    }
    // Synchronous on purpose: the lines must be in the file before the publishes (acks) are sent.
    appendFileSync(file, keys.map((key) => `${op} ${key}\n`).join(''));
    const state = op === 'c' ? 'confirmed' : 'published';
    for (const key of keys) run.set(key, state);
  }
  return {
    file,
    leftover: (key) => left.get(key),
    forget: (key) => void left.delete(key),
    published: (keys) => append('p', keys),
    confirmed: (keys) => append('c', keys),
    abandon: (key) => void run.delete(key),
    settle(keys) {
      for (const k of keys) run.delete(k);
      rewrite();
    },
    leftoverCount: () => left.size,
    dropLeftovers: () => left.clear(),
  };
}

/** A journal that remembers nothing across processes (API default, tests). */
export function createMemoryJournal(): RequeueJournal {
  return {
    file: undefined,
    leftover: () => undefined,
    forget: () => undefined,
    published: () => undefined,
    confirmed: () => undefined,
    abandon: () => undefined,
    settle: () => undefined,
    leftoverCount: () => 0,
    dropLeftovers: () => undefined,
  };
}
