import { describe, expect, it } from 'vitest';
import { createOldestFirst } from './oldest-first.ts';

describe('createOldestFirst', () => {
  it('evicts in insertion order and returns undefined on an empty map', () => {
    const m = new Map<string, number>();
    const evict = createOldestFirst(m);
    expect(evict()).toBeUndefined();
    m.set('a', 1).set('b', 2).set('c', 3);
    expect(evict()).toBe('a');
    expect(evict()).toBe('b');
    expect([...m.keys()]).toEqual(['c']);
    expect(evict()).toBe('c');
    expect(evict()).toBeUndefined();
    // The map is used again after it was empty: a fresh iterator is taken.
    m.set('d', 4);
    expect(evict()).toBe('d');
  });

  it('agrees with a fresh keys().next() through inserts, re-inserts (moved to the end) and deletes', () => {
    const m = new Map<number, number>();
    const evict = createOldestFirst(m);
    const model = new Map<number, number>();
    // A deterministic pseudo-random sequence of operations, checked step by step against the naive eviction.
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647; // Park-Miller: stays exact in a double
      return seed % n;
    };
    let evictions = 0;
    for (let i = 0; i < 20_000; i++) {
      const op = rand(10);
      const key = rand(500);
      if (op < 5) {
        // insert or touch: delete + set moves the key to the end in both
        m.delete(key);
        m.set(key, i);
        model.delete(key);
        model.set(key, i);
      } else if (op < 7) {
        m.delete(key);
        model.delete(key);
      } else {
        const expected = model.keys().next();
        if (expected.done !== true) model.delete(expected.value);
        expect(evict()).toBe(expected.done === true ? undefined : expected.value);
        evictions++;
      }
      if (i % 997 === 0) expect([...m.keys()]).toEqual([...model.keys()]);
    }
    expect([...m.entries()]).toEqual([...model.entries()]);
    expect(evictions).toBeGreaterThan(4_000);
  });

  it('keeps a bounded map bounded across many rehashes', () => {
    const m = new Map<string, number>();
    const evict = createOldestFirst(m);
    for (let i = 0; i < 300_000; i++) {
      m.set(`job-${i}`, i);
      if (m.size > 1_000) evict();
    }
    expect(m.size).toBe(1_000);
    expect(m.keys().next().value).toBe('job-299000');
  });
});
