import { describe, expect, it } from 'vitest';
import { createJobLedger, formatReport } from './helpers/job-ledger.ts';
import { runLoad, type SubmitResult } from './helpers/load-driver.ts';

describe('job ledger', () => {
  it('counts accepted, finished, duplicates and lost', () => {
    const ledger = createJobLedger();
    for (const id of ['a', 'b', 'c', 'd']) ledger.accepted(id);
    ledger.finished('a', 'succeeded');
    ledger.finished('b', 'dead-lettered');
    ledger.finished('a', 'succeeded');
    ledger.finished('c', 'succeeded');
    ledger.finished('c', 'succeeded');
    ledger.finished('c', 'succeeded');
    const r = ledger.report();
    expect(r).toMatchObject({ accepted: 4, finished: 3, succeeded: 2, deadLettered: 1, duplicates: 3, lost: 1, lostIds: ['d'] });
    expect(r.duplicateIds.sort()).toEqual(['a', 'c']);
    expect(ledger.pending()).toBe(1);
    expect(formatReport('demo', r)).toBe(
      'demo: accepted 4 / finished 3 / duplicates 3 / lost 1 (2 succeeded, 1 dead-lettered)',
    );
  });

  it('dead-lettered then succeeded after a requeue is recovered, not a duplicate', () => {
    const ledger = createJobLedger();
    ledger.accepted('a');
    ledger.accepted('b');
    ledger.finished('a', 'dead-lettered');
    ledger.finished('a', 'succeeded');
    ledger.finished('b', 'dead-lettered');
    ledger.finished('b', 'dead-lettered');
    const r = ledger.report();
    expect(r).toMatchObject({ finished: 2, succeeded: 1, deadLettered: 1, recovered: 1, duplicates: 1, duplicateIds: ['b'] });
  });

  it('a finish seen before the 2xx was recorded still counts, and pending stays right', () => {
    const ledger = createJobLedger();
    ledger.finished('x', 'succeeded');
    ledger.accepted('x');
    expect(ledger.pending()).toBe(0);
    expect(ledger.report()).toMatchObject({ accepted: 1, finished: 1, lost: 0, unknownFinished: 0 });
  });

  it('reports rejected jobs that ran anyway, unanswered requests and finishes nobody submitted', () => {
    const ledger = createJobLedger();
    ledger.rejected('r1', 503, 'PUBLISH_REJECTED');
    ledger.rejected('r2', 503, 'PUBLISH_REJECTED');
    ledger.rejected('r3', 503, 'PUBLISH_TIMEOUT');
    ledger.rejected('r3b', 503, 'PUBLISH_TIMEOUT');
    ledger.accepted('r3b');
    ledger.indeterminate('n1');
    ledger.finished('r2', 'succeeded');
    ledger.finished('n1', 'succeeded');
    ledger.finished('stranger', 'succeeded');
    const r = ledger.report();
    expect(r.rejected).toEqual({ '503:PUBLISH_REJECTED': 2, '503:PUBLISH_TIMEOUT': 1 });
    expect(r.rejectedButProcessed).toEqual(['r2 503:PUBLISH_REJECTED']);
    expect(r).toMatchObject({ accepted: 1, lost: 1, lostIds: ['r3b'], indeterminate: 1, indeterminateFinished: 1, unknownFinished: 1 });
  });
});

describe('load driver', () => {
  it('submits at the requested rate and records every kind of answer', async () => {
    const ledger = createJobLedger();
    const answers: SubmitResult[] = [
      { kind: 'accepted', jobId: 'j0', status: 202 },
      { kind: 'rejected', status: 503 },
      { kind: 'no-answer', error: 'socket hang up' },
    ];
    const t0 = performance.now();
    const summary = await runLoad({
      ledger,
      ratePerSecond: 100,
      total: 30,
      submit: async (seq) => {
        const a = answers[seq % 3];
        if (!a) throw new Error('unreachable');
        return a.kind === 'accepted' ? { ...a, jobId: `j${seq}` } : a;
      },
    });
    const elapsed = performance.now() - t0;
    expect(summary).toMatchObject({ submitted: 30, accepted: 10, rejected: 10, noAnswer: 10, firstAnswers: { '202': 10, '503': 10, 'no-answer': 10 } });
    // 30 jobs at 100/s: the last starts at ~290 ms.
    expect(elapsed).toBeGreaterThan(250);
    expect(elapsed).toBeLessThan(2000);
    const r = ledger.report();
    expect(r).toMatchObject({ accepted: 10, lost: 10, indeterminate: 10, rejected: { '503': 10 } });
  });

  it('retries a request that got no answer with the same client key', async () => {
    const ledger = createJobLedger();
    const calls: string[] = [];
    const summary = await runLoad({
      ledger,
      ratePerSecond: 1000,
      total: 2,
      retries: 3,
      retryDelayMs: 1,
      submit: async (seq, key) => {
        calls.push(key);
        // job-0 answers on its third try, job-1 at once
        return seq === 0 && calls.filter((k) => k === key).length < 3 ? { kind: 'no-answer', error: 'ECONNRESET' } : { kind: 'accepted', jobId: key, status: 202 };
      },
    });
    expect(summary).toMatchObject({ accepted: 2, noAnswer: 0, retried: 2 });
    expect(calls.filter((k) => k === 'job-0')).toHaveLength(3);
    expect(ledger.report()).toMatchObject({ accepted: 2, indeterminate: 0 });
  });

  it('a submit that throws counts as no answer instead of failing the run', async () => {
    const ledger = createJobLedger();
    const summary = await runLoad({
      ledger,
      ratePerSecond: 1000,
      total: 5,
      submit: () => Promise.reject(new Error('ECONNREFUSED')),
    });
    expect(summary.noAnswer).toBe(5);
    expect(ledger.report().indeterminate).toBe(5);
  });
});
