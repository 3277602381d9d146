import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.ts';
import { createBodyBudget } from './body-budget.ts';

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a 429');
}

describe('body budget', () => {
  it("caps one key at its share and all keys at the total; releasing gives the bytes back", () => {
    const budget = createBodyBudget({ totalBytes: 100, perKeyBytes: 60 });
    const a = budget.reserve('a', 50);
    const perKey = refusal(() => budget.reserve('a', 11));
    expect([perKey.status, perKey.code, perKey.details]).toEqual([429, 'BODY_BUDGET_EXCEEDED', { limit: 60, scope: 'key' }]);
    expect(['1', '2', '3']).toContain(perKey.headers['retry-after']);
    const b = budget.reserve('b', 50);
    const global = refusal(() => budget.reserve('c', 1));
    expect(global.details).toEqual({ limit: 100, scope: 'global' });
    expect(budget.inUse()).toBe(100);
    a();
    a();
    expect(budget.inUse()).toBe(50);
    expect(budget.inUse('a')).toBe(0);
    budget.reserve('c', 50);
    b();
    expect(budget.inUse()).toBe(50);
  });
});
