import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from './json-body.ts';

const nested = (depth: number, leaf: string) => '['.repeat(depth - 1) + leaf + ']'.repeat(depth - 1);

describe('JSON nesting depth', () => {
  it('counts containers like the text scan did: the document itself is level 1', () => {
    for (const [text, limit, exceeds] of [
      [nested(64, '[]'), 64, false],
      [nested(65, '[]'), 64, true],
      [nested(64, '{"a":{}}'), 64, true],
      [nested(63, '{"a":{}}'), 64, false],
      ['{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 64, false],
      [JSON.stringify(Array.from({ length: 1000 }, () => ({ messages: [{ role: 'user', content: 'x' }] }))), 64, false],
      ['"just a string"', 0, false],
    ] as const) {
      expect(jsonDepthExceeds(text, JSON.parse(text), limit), `${text.slice(0, 40)}... limit ${limit}`).toBe(exceeds);
    }
  });

  it('walks a 16 MiB batch of 1000 jobs in a few milliseconds (the text scan took ~200 ms)', () => {
    const text = JSON.stringify({ jobs: Array.from({ length: 1000 }, () => ({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(16_000) }] })) });
    const value: unknown = JSON.parse(text);
    const t0 = performance.now();
    expect(jsonDepthExceeds(text, value, 64)).toBe(false);
    const ms = performance.now() - t0;
    console.log(`[json-depth] 16 MiB batch: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(100);
  });
});
