import { describe, expect, it } from 'vitest';
import { safeErrorMessage, scrubSecrets } from './scrub-secrets.ts';

describe('scrubSecrets', () => {
  it('masks URL passwords', () => {
    expect(scrubSecrets('connect to amqp://warren:s3cret@rabbit:5672/x failed')).toBe('connect to amqp://warren:***@rabbit:5672/x failed');
  });
  it('masks bearer tokens and OpenAI-style keys', () => {
    expect(scrubSecrets('Authorization: Bearer abcdefghijklmnop1234')).toBe('Authorization: Bearer ***');
    expect(scrubSecrets('Incorrect API key provided: sk-proj-AbC123xyz456DEF789ghi')).toBe('Incorrect API key provided: sk-***');
  });
  it('masks key=value pairs and known secrets', () => {
    expect(scrubSecrets('GET /v1?api_key=zzzz9999&x=1')).toBe('GET /v1?api_key=***&x=1');
    expect(scrubSecrets('token my-very-own-key leaked', ['my-very-own-key'])).toBe('token *** leaked');
  });
});

describe('safeErrorMessage', () => {
  it('truncates to the maximum with an ellipsis and collapses whitespace', () => {
    const out = safeErrorMessage(`a\n\n${'x'.repeat(600)}`, 500);
    expect(out).toHaveLength(500);
    expect(out.endsWith('…')).toBe(true);
    expect(out.startsWith('a x')).toBe(true);
  });
});
