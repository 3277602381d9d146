import { describe, expect, it } from 'vitest';
import { createSucceededEventFields, jsonString, resultJsonOf, resultMessageJson } from './settled-json.ts';

const strings = ['f0c7b3a8-6ad4-4c3b-9a77-1b2a3c4d5e6f', '', 'a"b', 'back\\slash', 'tab\there', 'line\nbreak', 'é ü 漢字', '\u2028', '\ud800 lone surrogate', '\u007f', 'x'.repeat(300)];
const results: unknown[] = [{ type: 'bench', echo: { i: 1 }, attempt: 1, redelivered: false }, null, undefined, 0, 'text "quoted"', [1, { a: [] }], { date: new Date(0) }, () => 1];
const usages = [undefined, { promptTokens: 3, completionTokens: 4, totalTokens: 7 }];

describe('settled JSON', () => {
  it('quotes strings exactly as JSON.stringify does', () => {
    for (const s of strings) expect(jsonString(s)).toBe(JSON.stringify(s));
  });

  it('writes the succeeded event byte for byte as JSON.stringify wrote the event object, routes cached or not', () => {
    for (const queue of ['q.1', 'q"2']) {
      const write = createSucceededEventFields(queue);
      for (let pass = 0; pass < 2; pass++) {
        for (const result of results) {
          for (const usage of usages) {
            for (const route of [undefined, 'task', 'r"oute', '']) {
              for (const jobId of strings) {
                const attempt = jobId === '' ? Number.NaN : 2;
                for (const durationMs of [undefined, 0, 1_234]) {
                  const old = { status: 'succeeded', route, attempt, result: result ?? null, ...(usage ? { usage } : {}), jobId, queue, durationMs };
                  expect(`{${write(jobId, route, attempt, usage, resultJsonOf(result), durationMs)}}`).toBe(JSON.stringify(old));
                }
              }
            }
          }
        }
      }
    }
  });

  it('writes the result message byte for byte as JSON.stringify wrote its body', () => {
    for (const result of results) {
      for (const usage of usages) {
        for (const route of [undefined, 'task']) {
          const f = { jobId: 'j"1', route, queue: 'q', attempt: 1, usage };
          const old = { jobId: f.jobId, route, consumer: 'c', attempt: 1, result: result ?? null, usage, completedAt: '2025-01-01T00:00:00.000Z' };
          expect(resultMessageJson(f, 'c', '2025-01-01T00:00:00.000Z', resultJsonOf(result))).toBe(JSON.stringify(old));
        }
      }
    }
  });

  it('throws what JSON.stringify throws for a result JSON cannot hold', () => {
    expect(() => resultJsonOf({ n: 1n })).toThrow(TypeError);
  });
});
