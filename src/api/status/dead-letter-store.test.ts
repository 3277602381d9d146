import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../jobs/job-event.ts';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createDeadLetterStore, decodeDeadLetterCheckpoint } from './dead-letter-store.ts';

const dl = (jobId: string, status: JobEvent['status'] = 'dead-lettered'): JobEvent => ({
  jobId,
  status,
  queue: 'work',
  attempt: 1,
  at: '2026-12-03T10:00:00.000Z',
  error: { class: 'permanent', message: 'x'.repeat(1000) },
  deadLetter: { reason: 'permanent', originExchange: 'jobs', originRoutingKey: 'work', failedAt: '2026-12-03T10:00:00.000Z', requeued: 0 },
});
const ev = (jobId: string, status: JobEvent['status']): JobEvent => ({ jobId, status, attempt: 1, at: '2026-12-03T10:00:01.000Z' });
const ids = (s: ReturnType<typeof createDeadLetterStore>) => [...s.records()].map((r) => r.event.jobId).sort();
const msg = (n: number) => Buffer.from(`message ${n}`);

/** A store past its (empty) restore. */
function readyStore() {
  const s = createDeadLetterStore();
  s.load([], undefined);
  s.finishRestore(undefined);
  return s;
}

describe('dead-letter store', () => {
  it('holds a job from its dead-lettered (or blocked) event until any later event of it', () => {
    const s = readyStore();
    // `queued` read after `dead-lettered` (the API batches queued events) does not end the record.
    for (const [i, e] of [dl('a'), dl('b'), dl('c', 'blocked'), ev('c', 'queued'), ev('a', 'requeued'), ev('b', 'running')].entries()) {
      s.add(e);
      s.commit(i, msg(i));
    }
    expect(ids(s)).toEqual(['c']);
    // An older worker's event has no dead-letter part: it can't be placed, and it ends the record a previous one made.
    s.add(dl('c'));
    s.add({ ...dl('c'), deadLetter: undefined } as JobEvent);
    s.commit(6, msg(6));
    expect(ids(s)).toEqual([]);
    expect(s.position()?.offset).toBe(6);
  });

  it('applies nothing before a commit, and holds the tail back during a restore: replayed events first, then the tail after the restored position', () => {
    const s = createDeadLetterStore();
    expect(s.ready()).toBe(false);
    s.add(dl('t1'));
    s.commit(10, msg(10));
    s.add(ev('r1', 'requeued'));
    s.add(dl('t2'));
    s.commit(11, msg(11));
    expect(ids(s)).toEqual([]);
    s.load([dl('r1'), dl('r2')], { offset: 5, anchor: 'x' });
    s.replay(ev('r2', 'requeued'));
    s.replay(dl('t1'));
    // The replay read up to offset 10: the tail's message 10 is not applied twice, 11 is.
    s.finishRestore({ offset: 10, anchor: 'y' });
    expect(s.ready()).toBe(true);
    expect(ids(s)).toEqual(['t1', 't2']);
    expect(s.position()?.offset).toBe(11);
  });

  it('round-trips through its checkpoint (error messages cut to 300 characters)', () => {
    const s = readyStore();
    s.add(dl('a'));
    s.add(dl('b'));
    s.commit(7, msg(7));
    const cp = decodeDeadLetterCheckpoint(s.encode());
    expect(cp?.offset).toBe(7);
    expect(cp?.records.map((e) => e.jobId)).toEqual(['a', 'b']);
    expect(cp?.records[0]?.error?.message).toHaveLength(300);
    expect(decodeDeadLetterCheckpoint(Buffer.from('not gzip'))).toBeUndefined();
  });

  it('refuses a checkpoint whose columns disagree or hold values of the wrong kind', () => {
    const s = readyStore();
    s.add(dl('a'));
    s.commit(1, msg(1));
    const body = JSON.parse(gunzipSync(s.encode()).toString('utf8')) as Record<string, unknown[]>;
    const bad = (change: (b: Record<string, unknown[]>) => void) => {
      const copy = structuredClone(body);
      change(copy);
      return decodeDeadLetterCheckpoint(gzipSync(Buffer.from(JSON.stringify(copy))));
    };
    expect(bad(() => undefined)?.records).toHaveLength(1);
    expect(bad((b) => b.jobId!.push('extra'))).toBeUndefined();
    expect(bad((b) => (b.queue![0] = 99))).toBeUndefined();
    expect(bad((b) => (b.status![0] = 'succeeded'))).toBeUndefined();
    expect(bad((b) => (b.requeued![0] = -1))).toBeUndefined();
  });

  it('waitUntilReady resolves when the restore finishes, or false after the timeout', async () => {
    const s = createDeadLetterStore();
    expect(await s.waitUntilReady(10)).toBe(false);
    const waiting = s.waitUntilReady(5_000);
    s.finishRestore(undefined);
    expect(await waiting).toBe(true);
  });
});
