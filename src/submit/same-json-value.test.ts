import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatCompletionPayloadSchema, taskPayloadSchema } from '../jobs/payload-schemas.ts';
import { sameJsonValue } from './same-json-value.ts';

/** What the API compares: the parsed request against zod's output for it. */
function unchangedByZod(schema: z.ZodType, text: string): boolean {
  const input: unknown = JSON.parse(text);
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(`fixture does not validate: ${text}`);
  return sameJsonValue(input, parsed.data);
}

describe('sameJsonValue', () => {
  it('is true for a payload zod returns as it was given, whatever the key order or spacing of the text', () => {
    expect(unchangedByZod(chatCompletionPayloadSchema, '{ "messages": [{"content": "hi", "role": "user"}], "model": "m", "temperature": 0.5 }')).toBe(true);
    expect(unchangedByZod(chatCompletionPayloadSchema, '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"metadata":{"a":null,"b":1}}')).toBe(true);
    expect(unchangedByZod(taskPayloadSchema, '{"type":"t","input":{"deep":{"list":[1,{"x":true}]}}}')).toBe(true);
  });

  it('is false when zod filled a default, stripped a key, coerced, trimmed or transformed a value', () => {
    expect(unchangedByZod(taskPayloadSchema, '{"type":"t"}')).toBe(false);
    expect(unchangedByZod(z.object({ a: z.number() }), '{"a":1,"extra":2}')).toBe(false);
    expect(unchangedByZod(z.object({ a: z.coerce.string() }), '{"a":1}')).toBe(false);
    expect(unchangedByZod(z.object({ a: z.string().trim() }), '{"a":" x "}')).toBe(false);
    expect(unchangedByZod(z.object({ at: z.string().transform((s) => new Date(s)) }), '{"at":"2026-01-01T00:00:00Z"}')).toBe(false);
    expect(unchangedByZod(z.object({ n: z.number().catch(0) }), '{"n":"x"}')).toBe(false);
  });

  it('is false for different shapes, lengths, keys and values, and for an undefined field the input lacks', () => {
    expect(sameJsonValue({ a: [1, 2] }, { a: [1, 2, 3] })).toBe(false);
    expect(sameJsonValue({ a: 1 }, { b: 1 })).toBe(false);
    expect(sameJsonValue({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJsonValue([1], { 0: 1 })).toBe(false);
    expect(sameJsonValue({}, [])).toBe(false);
    expect(sameJsonValue({ a: '1' }, { a: 1 })).toBe(false);
    expect(sameJsonValue(null, {})).toBe(false);
    expect(sameJsonValue({ m: {} }, { m: new Map() })).toBe(false);
  });
});
