import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatCompletionPayloadSchema, taskPayloadSchema } from '../jobs/payload-schemas.ts';
import { compilePayloadFastPath } from './payload-fast-path.ts';

describe('payload fast path', () => {
  it('covers the built-in schemas, the task schema (with its defaulted input) included', () => {
    expect(compilePayloadFastPath(taskPayloadSchema)).toBeTypeOf('function');
    expect(compilePayloadFastPath(chatCompletionPayloadSchema)).toBeTypeOf('function');
  });

  it('accepts only what zod accepts and returns unchanged; a missing defaulted field goes to zod', () => {
    const accept = compilePayloadFastPath(taskPayloadSchema)!;
    const cases: unknown[] = [
      { type: 'x', input: { a: 1 } },
      { type: 'x', input: {}, metadata: { k: 'v', n: 1, b: true, z: null } },
      { type: 'x' }, // zod fills input: {}
      { type: 'x', input: { a: 1 }, extra: 1 }, // strict
      { type: '', input: {} },
      { type: 'x', input: [] },
      { type: 'x', input: null },
      { type: 'x', input: {}, metadata: { k: {} } },
      'x',
      null,
    ];
    for (const value of cases) {
      const parsed = taskPayloadSchema.safeParse(value);
      if (accept(value)) {
        expect(parsed.success, JSON.stringify(value)).toBe(true);
        expect(parsed.data).toEqual(value);
      }
    }
    expect(cases.slice(0, 2).every(accept)).toBe(true);
    expect(accept({ type: 'x' })).toBe(false);
  });

  it('keeps the unknown-key policy of the object it rewrites, and gives up on defaults it does not rewrite', () => {
    const strip = z.object({ a: z.string().default('d') });
    const acceptStrip = compilePayloadFastPath(strip)!;
    expect(acceptStrip({ a: 'x' })).toBe(true);
    expect(acceptStrip({ a: 'x', b: 1 })).toBe(false); // zod would strip b
    expect(acceptStrip({})).toBe(false);
    const loose = compilePayloadFastPath(z.looseObject({ a: z.string().default('d') }))!;
    expect(loose({ a: 'x', b: 1 })).toBe(true);
    expect(compilePayloadFastPath(z.object({ a: z.array(z.string().default('d')) }))).toBeUndefined();
    expect(compilePayloadFastPath(z.object({ a: z.object({ b: z.number().default(1) }).default({ b: 1 }) }))!({ a: { b: 2 } })).toBe(true);
  });
});
