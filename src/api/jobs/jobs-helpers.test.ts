import { describe, expect, it } from 'vitest';
import { idempotentJobId, parseIdempotencyKey, uuidV5 } from './idempotency.ts';
import { nextTraceparent } from './traceparent.ts';

describe('idempotency ids', () => {
  it('are RFC 4122 v5 UUIDs (known vector) and deterministic', () => {
    // The published test vector: "www.example.com" in the DNS namespace.
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(idempotentJobId('caller', 'route:chat', 'k')).toBe(idempotentJobId('caller', 'route:chat', 'k'));
    expect(idempotentJobId('caller', 'route:chat', 'k')).not.toBe(idempotentJobId('caller', 'route:chat', 'k2'));
    expect(idempotentJobId('caller', 'route:chat', 'k')).not.toBe(idempotentJobId('other', 'route:chat', 'k'));
  });
  it('validates the header', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('abc-123')).toBe('abc-123');
    for (const bad of ['', 'a b', 'x'.repeat(256), 'é']) expect(() => parseIdempotencyKey(bad)).toThrow(/Idempotency-Key must be/);
  });
});

describe('traceparent', () => {
  it('continues a valid trace with a new span id', () => {
    const out = nextTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
    expect(out).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
    expect(out).not.toContain('00f067aa0ba902b7');
  });
  it('starts a new trace for absent or invalid input', () => {
    for (const bad of [undefined, 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
      const out = nextTraceparent(bad);
      expect(out).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(out).not.toContain('4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });
});
