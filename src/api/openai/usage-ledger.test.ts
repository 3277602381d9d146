import { describe, expect, it } from 'vitest';
import { createUsageLedger } from './usage-ledger.ts';

const T0 = Date.parse('2026-03-31T23:59:00Z');

describe('usage ledger', () => {
  it('counts requests per sliding minute and says when the oldest leaves the window', () => {
    const l = createUsageLedger();
    l.admit('a', 'j1', 0, T0);
    l.admit('a', 'j2', 0, T0 + 10_000);
    const refusal = l.check('a', { requestsPerMinute: 2 }, 0, T0 + 20_000);
    expect(refusal?.limit).toBe('requestsPerMinute');
    expect(refusal?.retryAfterS).toBe(40);
    expect(l.check('a', { requestsPerMinute: 2 }, 0, T0 + 60_001)).toBeUndefined();
    expect(l.check('b', { requestsPerMinute: 2 }, 0, T0 + 20_000)).toBeUndefined();
  });

  it('reserves tokens from queued events of every replica and replaces them with the reported usage', () => {
    const l = createUsageLedger();
    const now = Date.now();
    const at = new Date(now).toISOString();
    l.observe({ jobId: 'r1', status: 'queued', attempt: 1, at, owner: 'a', reservedTokens: 40 }, undefined);
    expect(l.usage('a').tokensToday).toBe(40);
    expect(l.check('a', { tokensPerDay: 100 }, 61)?.limit).toBe('tokensPerDay');
    expect(l.check('a', { tokensPerDay: 100 }, 60)).toBeUndefined();
    // The succeeded event names no owner: the index's answer is passed in.
    l.observe({ jobId: 'r1', status: 'succeeded', attempt: 1, at, usage: { promptTokens: 10, completionTokens: 15, totalTokens: 25, cost: 0.5 } }, 'a');
    expect(l.usage('a')).toMatchObject({ tokensToday: 25, costThisMonth: 0.5 });
    l.observe({ jobId: 'r2', status: 'queued', attempt: 1, at, owner: 'a', reservedTokens: 30 }, undefined);
    l.observe({ jobId: 'r2', status: 'dead-lettered', attempt: 1, at }, 'a');
    expect(l.usage('a').tokensToday).toBe(25);
    expect(l.check('a', { costPerMonth: 0.5 }, 0)?.limit).toBe('costPerMonth');
  });

  it('starts a new day and a new month at UTC midnight', () => {
    const l = createUsageLedger();
    l.admit('a', 'j1', 70, T0);
    l.observe({ jobId: 'j1', status: 'succeeded', attempt: 1, at: new Date(T0).toISOString(), usage: { promptTokens: 30, completionTokens: 40, totalTokens: 70, cost: 2 } }, undefined, T0);
    expect(l.check('a', { tokensPerDay: 100 }, 40, T0)?.retryAfterS).toBe(60);
    expect(l.check('a', { costPerMonth: 2 }, 0, T0)?.retryAfterS).toBe(60);
    // 2026-04-01: a new day and a new month.
    expect(l.check('a', { tokensPerDay: 100, costPerMonth: 2 }, 40, T0 + 61_000)).toBeUndefined();
  });

  it('undoes an admission whose publish failed', () => {
    const l = createUsageLedger();
    l.admit('a', 'j1', 50, T0);
    l.cancel('j1');
    expect(l.usage('a', T0)).toMatchObject({ requestsLastMinute: 0, tokensToday: 0 });
  });
});
