import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatCompletionPayloadSchema, taskPayloadSchema } from './payload-schemas.ts';
import { compileFastAccept } from './fast-accept.ts';

const chat = compileFastAccept(chatCompletionPayloadSchema);
const job = () => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: [{ type: 'text', text: 'hi' }], name: 'u1' },
  ],
  temperature: 0.3,
  max_tokens: 512,
  stop: ['\n'],
  priority: 'realtime',
  metadata: { tenant: 'acme', n: 1, ok: true, none: null },
});

// Deterministic PRNG so a failure is reproducible.
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}
const odd: unknown[] = ['', 'x', '😀', 'a'.repeat(201), -1, 0, 1, 2.5, 1e6 + 1, 3.7, NaN, Infinity, true, null, [], {}, [1], { a: 1 }, ['a', 'b', 'c', 'd', 'e'], '__proto__'];

/** Replaces one random spot (or adds/removes a key) anywhere in the value. */
function mutate(value: unknown, r: () => number): unknown {
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length > 0 && r() < 0.7) {
      const i = Math.floor(r() * copy.length);
      copy[i] = r() < 0.5 ? mutate(copy[i], r) : odd[Math.floor(r() * odd.length)];
    } else if (r() < 0.5) copy.pop();
    else copy.push(odd[Math.floor(r() * odd.length)]);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...value };
    const keys = Object.keys(copy);
    const roll = r();
    if (roll < 0.15) copy[['extra', 'tool_calls', '__proto__', 'name'][Math.floor(r() * 4)] as string] = odd[Math.floor(r() * odd.length)];
    else if (roll < 0.3 && keys.length > 0) delete copy[keys[Math.floor(r() * keys.length)] as string];
    else if (keys.length > 0) {
      const k = keys[Math.floor(r() * keys.length)] as string;
      copy[k] = r() < 0.5 ? mutate(copy[k], r) : odd[Math.floor(r() * odd.length)];
    }
    return copy;
  }
  return odd[Math.floor(r() * odd.length)];
}

describe('compileFastAccept', () => {
  it('accepts an ordinary chat job, so the fast path is really taken', () => {
    expect(chat).toBeDefined();
    expect(chat?.(job())).toBe(true);
    expect(chat?.({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).toBe(true);
  });

  it('never accepts what zod rejects or would change (differential, 20,000 generated payloads)', () => {
    const r = rng(42);
    let fast = 0;
    let zodOnly = 0;
    for (let i = 0; i < 20_000; i++) {
      let v: unknown = job();
      const rounds = 1 + Math.floor(r() * 3);
      for (let j = 0; j < rounds; j++) v = mutate(v, r);
      // Payloads arrive as JSON: `__proto__` keys are own properties after JSON.parse, as here.
      v = JSON.parse(JSON.stringify(v) ?? 'null');
      const parsed = chatCompletionPayloadSchema.safeParse(v);
      if (chat?.(v) === true) {
        fast++;
        expect(parsed.success, JSON.stringify(v)).toBe(true);
        expect(parsed.data).toStrictEqual(v);
      } else if (parsed.success) zodOnly++;
    }
    // Both paths exercised: many mutations keep the job valid, some only zod can settle (e.g. stripped keys).
    expect(fast).toBeGreaterThan(1_000);
    expect(zodOnly).toBeGreaterThan(0);
  });

  it('leaves stripped keys, code-point lengths and lone __proto__ keys to zod', () => {
    expect(chat?.({ model: 'm', messages: [{ role: 'user', content: 'x', tool_calls: [] }] })).toBe(false);
    expect(chat?.(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"__proto__":"x"}}'))).toBe(false);
    const one = compileFastAccept(z.string().min(2));
    expect(one?.('😀')).toBe(false);
    expect(z.string().min(2).safeParse('😀').success).toBe(false);
  });

  it('does not compile schemas with transforms, defaults or refinements (zod always runs)', () => {
    expect(compileFastAccept(taskPayloadSchema)).toBeUndefined();
    expect(compileFastAccept(z.object({ a: z.string().transform((s) => s.length) }))).toBeUndefined();
    expect(compileFastAccept(z.object({ a: z.string() }).refine(() => true))).toBeUndefined();
    expect(compileFastAccept(z.string().email())).toBeUndefined();
  });

  it('treats a union as unsure when an earlier option might also match', () => {
    const u = compileFastAccept(z.union([z.object({ a: z.string() }), z.object({ a: z.string(), b: z.number() }).strict()]));
    // The first (stripping) option would succeed with {a} only: not identical, so not fast.
    expect(u?.({ a: 'x', b: 1 })).toBe(false);
    expect(z.union([z.object({ a: z.string() }), z.object({ a: z.string(), b: z.number() }).strict()]).parse({ a: 'x', b: 1 })).toEqual({ a: 'x' });
  });
});
