import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { ConfirmPublisher, PublishRequest } from '../broker/confirm-publisher.ts';
import { PublishRejectedError } from '../errors/index.ts';
import type { RequeueJournal } from './requeue-journal.ts';
import { createRequeueWindow, type WindowEntry } from './requeue-window.ts';
import type { SnapshotReader } from './snapshot-reader.ts';

/** Everything the fakes saw, in order: `p k1`, `publish k1`, `c k1`, `ack k1,k2` ... */
type Log = string[];

function message(tag: number): ConsumeMessage {
  return { fields: { deliveryTag: tag }, properties: { messageId: `m${tag}` }, content: Buffer.from(`${tag}`) } as unknown as ConsumeMessage;
}

function fakeJournal(log: Log, failOn?: 'p' | 'c'): RequeueJournal {
  return {
    file: '/tmp/fake.journal',
    leftover: () => undefined,
    forget: () => undefined,
    published(keys) {
      if (failOn === 'p') throw new Error('disk full');
      log.push(`p ${keys.join(',')}`);
    },
    confirmed(keys) {
      if (failOn === 'c') throw new Error('disk full');
      log.push(`c ${keys.join(',')}`);
    },
    abandon: (key) => void log.push(`abandon ${key}`),
    settle: (keys) => void log.push(`settle ${[...keys].join(',')}`),
    leftoverCount: () => 0,
    dropLeftovers: () => undefined,
  };
}

/** Confirms (or refuses) each publish when the test says so, like a broker that answers later. */
function fakePublisher(log: Log) {
  const pending: Array<{ req: PublishRequest; resolve: () => void; reject: (e: Error) => void }> = [];
  const publisher: ConfirmPublisher = {
    publish(req) {
      log.push(`publish ${String(req.properties?.messageId)}`);
      return new Promise<void>((resolve, reject) => pending.push({ req, resolve, reject }));
    },
    isReady: () => true,
    stats: () => ({ confirmed: 0, nacked: 0, returned: 0, timedOut: 0, waiting: 0, inFlight: pending.length }),
    close: async () => undefined,
  };
  return {
    publisher,
    pending,
    /** Confirms every publish sent so far (`reject` refuses the ones whose messageId it names). */
    confirmAll(reject: string[] = []) {
      for (const p of pending.splice(0)) {
        if (reject.includes(String(p.req.properties?.messageId))) p.reject(new PublishRejectedError('nack'));
        else p.resolve();
      }
    },
  };
}

function fakeReader(log: Log): SnapshotReader {
  return {
    snapshot: 0,
    total: 0,
    next: async () => undefined,
    keep: () => undefined,
    ack: () => true,
    ackAll(messages) {
      log.push(`ack ${messages.map((m) => m.properties.messageId as string).join(',')}`);
      return true;
    },
    sync: async () => undefined,
    lostWith: () => undefined,
    close: async () => undefined,
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function entry(tag: number, exchange = 'jobs'): WindowEntry<number> {
  const m = message(tag);
  return { message: m, key: `m${tag}`, exchange, routingKey: 'k', properties: { messageId: `m${tag}` }, data: tag };
}

function setup(size: number, failOn?: 'p' | 'c') {
  const log: Log = [];
  const pub = fakePublisher(log);
  const outcome = { moved: [] as number[], failed: [] as number[], unacked: [] as number[] };
  const window = createRequeueWindow<number>({
    publisher: pub.publisher,
    reader: fakeReader(log),
    journal: fakeJournal(log, failOn),
    size,
    publishTimeoutMs: 1000,
    onMoved: (e) => void outcome.moved.push(e.data),
    onUnacked: (e) => void outcome.unacked.push(e.data),
    onFailed: (e) => void outcome.failed.push(e.data),
    onSettled: () => undefined,
  });
  return { log, pub, outcome, window };
}

describe('requeue window', () => {
  it('journals a batch before sending it and its confirms before acking them, one write and one ack call each', async () => {
    const { log, pub, outcome, window } = setup(8);
    // The first publish to an exchange goes alone and must settle before anything else is taken.
    const first = window.add(entry(1));
    expect(first).toBeInstanceOf(Promise);
    await tick();
    expect(log).toEqual(['p m1', 'publish m1']);
    pub.confirmAll();
    await first;
    expect(log).toEqual(['p m1', 'publish m1', 'c m1', 'ack m1']);

    log.length = 0;
    for (const t of [2, 3, 4]) expect(window.add(entry(t))).toBeUndefined();
    expect(log).toEqual([]);
    await tick();
    expect(log).toEqual(['p m2,m3,m4', 'publish m2', 'publish m3', 'publish m4']);
    pub.confirmAll();
    await window.drain();
    expect(log.slice(4)).toEqual(['c m2,m3,m4', 'ack m2,m3,m4']);
    expect(outcome.moved).toEqual([1, 2, 3, 4]);
  });

  it('never has more than `size` unconfirmed publishes', async () => {
    const { pub, window } = setup(2);
    const first = window.add(entry(1));
    await tick();
    pub.confirmAll();
    await first;
    expect(window.add(entry(2))).toBeUndefined();
    expect(window.add(entry(3))).toBeUndefined();
    const fourth = window.add(entry(4));
    expect(fourth).toBeInstanceOf(Promise);
    await tick();
    expect(pub.pending.map((p) => p.req.properties?.messageId)).toEqual(['m2', 'm3']);
    pub.confirmAll();
    await fourth;
    await tick();
    expect(pub.pending.map((p) => p.req.properties?.messageId)).toEqual(['m4']);
  });

  it('a refused publish is a failure of that message alone: not acked, forgotten in the journal', async () => {
    const { log, pub, outcome, window } = setup(8);
    const first = window.add(entry(1));
    await tick();
    pub.confirmAll();
    await first;
    window.add(entry(2));
    window.add(entry(3));
    window.add(entry(4));
    await tick();
    pub.confirmAll(['m3']);
    await window.drain();
    expect(outcome).toEqual({ moved: [1, 2, 4], failed: [3], unacked: [] });
    expect(log).toContain('abandon m3');
    expect(log).toContain('ack m2,m4');
  });

  it('a journal that cannot be written stops the window before anything is sent', async () => {
    const { log, window } = setup(8, 'p');
    await window.add(entry(1));
    expect(log).toEqual([]);
    expect(window.failure()).toMatchObject({ code: 'DLQ_JOURNAL_FAILED', message: expect.stringMatching(/disk full; 1 messages were not sent/) });
    expect(() => window.add(entry(2))).toThrow(/could not write the requeue journal/);
  });

  it('a confirm the journal cannot record is not acked', async () => {
    const { log, pub, outcome, window } = setup(8, 'c');
    const first = window.add(entry(1));
    await tick();
    pub.confirmAll();
    await first;
    expect(log).toEqual(['p m1', 'publish m1']);
    expect(outcome).toEqual({ moved: [], failed: [], unacked: [] });
    expect(window.failure()?.message).toMatch(/were not acked and stay in the DLQ as well/);
  });
});
