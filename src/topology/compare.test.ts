import { describe, expect, it } from 'vitest';
import { argumentChanges, maxAgeSeconds, sameArgument, sameValue, stableStringify } from './compare.ts';

describe('compare', () => {
  it('stableStringify sorts keys at every level but keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(sameValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue(1, '1')).toBe(false);
  });

  it('reads every x-max-age unit the broker accepts', () => {
    expect(maxAgeSeconds('7D')).toBe(604_800);
    expect(maxAgeSeconds('604800s')).toBe(604_800);
    expect(maxAgeSeconds('1Y')).toBe(31_536_000);
    expect(maxAgeSeconds('2M')).toBe(5_184_000);
    expect(maxAgeSeconds('3h')).toBe(10_800);
    expect(maxAgeSeconds('5m')).toBe(300);
    expect(maxAgeSeconds('7d')).toBeUndefined();
    expect(maxAgeSeconds(7)).toBeUndefined();
    expect(sameArgument('x-max-age', '1D', '86400s')).toBe(true);
    expect(sameArgument('x-max-age', '1D', '86401s')).toBe(false);
    expect(sameArgument('x-other', '1D', '86400s')).toBe(false);
  });

  it('argumentChanges lists added, removed and changed keys in name order, skipping ignored ones', () => {
    expect(argumentChanges({ 'x-b': 1, 'x-a': 'same', 'x-gone': true, skip: 1 }, { 'x-a': 'same', 'x-b': 2, 'x-new': 'n', skip: 2 }, new Set(['skip']))).toEqual([
      { field: 'x-b', actual: 1, desired: 2 },
      { field: 'x-gone', actual: true, desired: undefined },
      { field: 'x-new', actual: undefined, desired: 'n' },
    ]);
  });
});
