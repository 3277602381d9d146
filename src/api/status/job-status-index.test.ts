import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../jobs/job-event.ts';
import { createJobStatusIndex } from './job-status-index.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const ev = (jobId: string, status: JobEvent['status'], attempt: number, s: number, extra: Partial<JobEvent> = {}): JobEvent => ({ jobId, status, attempt, at: at(s), ...extra });

describe('job status index', () => {
  it('follows a job through retry to success with attempts and result', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('a', 'queued', 1, 0, { route: 'chat' }));
    idx.apply(ev('a', 'running', 1, 1, { queue: 'llm.standard' }));
    idx.apply(ev('a', 'retrying', 1, 2, { error: { class: 'rate-limited', message: '429' }, retryInMs: 1000 }));
    idx.apply(ev('a', 'running', 2, 3));
    idx.apply(ev('a', 'succeeded', 2, 4, { result: { text: 'ok' }, usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 } }));
    expect(idx.get('a')).toEqual({
      id: 'a',
      route: 'chat',
      queue: 'llm.standard',
      status: 'succeeded',
      createdAt: at(0),
      updatedAt: at(4),
      attempts: [
        { attempt: 1, status: 'retrying', startedAt: at(1), endedAt: at(2), error: { class: 'rate-limited', message: '429' }, retryInMs: 1000 },
        { attempt: 2, status: 'succeeded', startedAt: at(3), endedAt: at(4) },
      ],
      result: { text: 'ok' },
      usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
    });
  });

  it("shows when a quick attempt started from its duration; a `running` event's time wins", () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    // Attempt 1 was quicker than the worker's `running` delay: only its outcome, with how long it ran.
    idx.apply(ev('q', 'queued', 1, 0));
    idx.apply(ev('q', 'retrying', 1, 2, { error: { class: 'server-error', message: '500' }, retryInMs: 0, durationMs: 1_500 }));
    idx.apply(ev('q', 'running', 2, 3));
    idx.apply(ev('q', 'succeeded', 2, 5, { durationMs: 1_900 }));
    expect(idx.get('q')?.attempts).toEqual([
      { attempt: 1, status: 'retrying', startedAt: new Date(T0 + 500).toISOString(), endedAt: at(2), durationMs: 1_500, error: { class: 'server-error', message: '500' }, retryInMs: 0 },
      { attempt: 2, status: 'succeeded', startedAt: at(3), endedAt: at(5), durationMs: 1_900 },
    ]);
  });

  it('a late queued event (published after the confirm, without blocking) never hides progress', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('b', 'running', 1, 1));
    idx.apply(ev('b', 'queued', 1, 0, { route: 'chat' }));
    expect(idx.get('b')).toMatchObject({ status: 'running', route: 'chat', createdAt: at(0) });
  });

  it('a worker event with attempt 0 still replaces queued', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('z', 'queued', 1, 0));
    idx.apply(ev('z', 'dead-lettered', 0, 1, { error: { class: 'invalid-payload', message: 'bad' } }));
    expect(idx.get('z')?.status).toBe('dead-lettered');
  });

  it('an older attempt does not override a newer one', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('c', 'running', 2, 5));
    idx.apply(ev('c', 'retrying', 1, 4));
    expect(idx.get('c')?.status).toBe('running');
  });

  it('requeued after a dead letter starts a new generation', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('d', 'running', 3, 1));
    idx.apply(ev('d', 'dead-lettered', 3, 2, { error: { class: 'server-error', message: '500' } }));
    idx.apply(ev('d', 'requeued', 0, 10));
    expect(idx.get('d')?.status).toBe('requeued');
    idx.apply(ev('d', 'running', 1, 11));
    expect(idx.get('d')?.status).toBe('running');
  });

  it('an attempt that succeeded after a requeue (numbers start again) does not keep the error of the dead-lettered attempt of the same number', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('g', 'dead-lettered', 1, 2, { error: { class: 'permanent', message: 'bad input' }, durationMs: 5 }));
    idx.apply(ev('g', 'requeued', 0, 10));
    idx.apply(ev('g', 'succeeded', 1, 12, { durationMs: 7, result: { ok: true } }));
    expect(idx.get('g')?.attempts).toEqual([{ attempt: 1, status: 'succeeded', endedAt: at(12), startedAt: new Date(T0 + 12_000 - 7).toISOString(), durationMs: 7 }]);
  });

  it('a requeued event that arrives after the requeued copy already ran does not hide its outcome', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply(ev('r', 'dead-lettered', 3, 2));
    // Stamped at 10 (before the republish); the worker ran the copy at 11-12; the DLQ tool's event arrives last.
    idx.apply(ev('r', 'running', 1, 11));
    idx.apply(ev('r', 'succeeded', 1, 12));
    idx.apply(ev('r', 'requeued', 0, 10));
    expect(idx.get('r')?.status).toBe('succeeded');
  });

  it('forgets the least recently updated job beyond capacity', () => {
    const idx = createJobStatusIndex({ capacity: 2 });
    idx.apply(ev('1', 'queued', 1, 0));
    idx.apply(ev('2', 'queued', 1, 0));
    idx.apply(ev('1', 'running', 1, 1));
    idx.apply(ev('3', 'queued', 1, 2));
    expect(idx.get('2')).toBeUndefined();
    expect(idx.get('1')?.status).toBe('running');
    expect(idx.get('3')).toBeDefined();
    expect(idx.size()).toBe(2);
  });

  it('keeps exactly the most recently updated jobs through many evictions', () => {
    const idx = createJobStatusIndex({ capacity: 100 });
    // 5,000 jobs; each job's `running` arrives 150 jobs after its `queued` (so only some are still held to update).
    for (let i = 0; i < 5_000; i++) {
      idx.apply(ev(`j${i}`, 'queued', 1, i));
      if (i >= 150 && i % 3 === 0) idx.apply(ev(`j${i - 150}`, 'running', 1, i));
    }
    expect(idx.size()).toBe(100);
    const held = Array.from({ length: 5_000 }, (_, i) => `j${i}`).filter((id) => idx.get(id) !== undefined);
    expect(held).toHaveLength(100);
    // The jobs held are exactly the last 100 distinct ones to get an event, whichever event it was.
    const lastUpdated: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      lastUpdated.push(`j${i}`);
      if (i >= 150 && i % 3 === 0) lastUpdated.push(`j${i - 150}`);
    }
    const newest = new Set<string>();
    for (let k = lastUpdated.length - 1; k >= 0 && newest.size < 100; k--) newest.add(lastUpdated[k] as string);
    expect(new Set(held)).toEqual(newest);
  });

  it('keeps the first owner it sees: a later event never moves a job to another key', () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    idx.apply({ ...ev('o', 'running', 1, 1) });
    expect(idx.ownerOf('o')).toBeUndefined();
    idx.apply({ ...ev('o', 'queued', 1, 0), owner: 'alice' });
    expect(idx.ownerOf('o')).toBe('alice');
    idx.apply({ ...ev('o', 'succeeded', 1, 2), owner: 'mallory' });
    expect(idx.ownerOf('o')).toBe('alice');
    // The owner is the index's to check, not part of the status document.
    expect(idx.get('o')).not.toHaveProperty('owner');
    expect(idx.ownerOf('unknown')).toBeUndefined();
  });

  it('notifies subscribers and resolves waitFor', async () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    const seen: string[] = [];
    const off = idx.subscribe('e', (v) => seen.push(v.status));
    const done = idx.waitFor('e', (v) => v.status === 'succeeded', 1000);
    idx.apply(ev('e', 'queued', 1, 0));
    idx.apply(ev('e', 'succeeded', 1, 1));
    expect((await done)?.status).toBe('succeeded');
    off();
    idx.apply(ev('e', 'requeued', 0, 2));
    expect(seen).toEqual(['queued', 'succeeded']);
    expect(await idx.waitFor('nobody', () => true, 10)).toBeUndefined();
  });

  it('waitFor ends early on abort', async () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    await idx.waitFor('x', () => false, 10_000, ac.signal);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports caught up to waiters', async () => {
    const idx = createJobStatusIndex({ capacity: 10 });
    expect(await idx.waitUntilCaughtUp(10)).toBe(false);
    const w = idx.waitUntilCaughtUp(1000);
    idx.markCaughtUp();
    expect(await w).toBe(true);
    expect(idx.isCaughtUp()).toBe(true);
  });

  it('marks a record incomplete when the history may hold earlier events of the job, and a lookup completes it', () => {
    const idx = createJobStatusIndex({ capacity: 10, mayHaveHistory: (id) => id === 'old' });
    idx.apply(ev('new', 'queued', 1, 0));
    idx.apply(ev('old', 'succeeded', 1, 5));
    expect(idx.peek('new')?.complete).toBe(true);
    expect(idx.peek('old')).toMatchObject({ complete: false, view: { status: 'succeeded' } });
    // The caller may know better (the tail passes what it knows).
    idx.apply(ev('other', 'running', 1, 0), { complete: true });
    expect(idx.peek('other')?.complete).toBe(true);
    // A lookup reads the job from the stream while the tail goes on: events applied meanwhile are not lost.
    idx.beginLookup('old');
    idx.apply(ev('old', 'requeued', 0, 6));
    const view = idx.finishLookup('old', [{ ...ev('old', 'queued', 1, 1), owner: 'k' }, ev('old', 'running', 1, 2), ev('old', 'succeeded', 1, 5)]);
    expect(view?.status).toBe('requeued');
    expect(idx.peek('old')).toMatchObject({ complete: true, owner: 'k' });
    expect(idx.peek('old')?.view.attempts).toHaveLength(1);
    // A failed read changes nothing; a lookup over a part not indexed yet stays incomplete.
    idx.beginLookup('x');
    expect(idx.finishLookup('x', undefined)).toBeUndefined();
    idx.beginLookup('y');
    idx.finishLookup('y', [ev('y', 'queued', 1, 0)], false);
    expect(idx.peek('y')?.complete).toBe(false);
  });

  it('keeps records someone listens to when it evicts', () => {
    const idx = createJobStatusIndex({ capacity: 3 });
    idx.apply(ev('watched', 'queued', 1, 0));
    const off = idx.subscribe('watched', () => undefined);
    for (let i = 0; i < 10; i++) idx.apply(ev(`j${i}`, 'queued', 1, i));
    expect(idx.has('watched')).toBe(true);
    expect(idx.size()).toBe(3);
    off();
    for (let i = 10; i < 13; i++) idx.apply(ev(`j${i}`, 'queued', 1, i));
    expect(idx.has('watched')).toBe(false);
  });
});
