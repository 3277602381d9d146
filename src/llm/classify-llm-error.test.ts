import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { describe, expect, it } from 'vitest';
import { classifyLlmError, parseRetryAfter } from './classify-llm-error.ts';
import { ContentFilterError } from './content-filter-error.ts';

function apiError(status: number, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, { error: body }, undefined, new Headers(headers));
}

describe('classifyLlmError', () => {
  it.each([
    [429, {}, 'rate-limited'],
    [429, { code: 'insufficient_quota', message: 'You exceeded your current quota' }, 'auth'],
    [500, {}, 'server-error'],
    [503, {}, 'server-error'],
    [409, {}, 'server-error'],
    [408, {}, 'timeout'],
    [400, { message: 'bad' }, 'bad-request'],
    [400, { code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens" }, 'context-length'],
    [400, { message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens" }, 'context-length'],
    [400, { code: 'content_filter', message: 'The response was filtered due to the prompt triggering content management policy' }, 'content-filter'],
    [401, {}, 'auth'],
    [403, {}, 'auth'],
    [404, { message: 'The model `gpt-9` does not exist' }, 'not-found'],
    [422, {}, 'unprocessable'],
  ] as const)('HTTP %i %j -> %s', (status, body, cls) => {
    expect(classifyLlmError(apiError(status, body))?.errorClass).toBe(cls);
  });

  it('reads Retry-After from a 429', () => {
    expect(classifyLlmError(apiError(429, {}, { 'retry-after': '2' }))).toEqual({ errorClass: 'rate-limited', status: 429, retryAfterMs: 2000 });
    expect(classifyLlmError(apiError(429, {}, { 'retry-after-ms': '150' }))?.retryAfterMs).toBe(150);
  });

  it('separates timeouts, aborts and connection errors', () => {
    expect(classifyLlmError(new APIConnectionTimeoutError())?.errorClass).toBe('timeout');
    expect(classifyLlmError(new APIUserAbortError())?.errorClass).toBe('timeout');
    expect(classifyLlmError(new APIConnectionError({ message: 'Connection error.' }))?.errorClass).toBe('connection');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyLlmError(refused)?.errorClass).toBe('connection');
  });

  it('knows content filter errors and leaves anything else alone', () => {
    expect(classifyLlmError(new ContentFilterError())?.errorClass).toBe('content-filter');
    expect(classifyLlmError(new Error('boom'))).toBeUndefined();
    expect(classifyLlmError('nope')).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds, milliseconds and HTTP dates', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '1.5' }))).toBe(1500);
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '20', 'retry-after': '9' }))).toBe(20);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(3000);
    expect(parseRetryAfter(new Headers({}))).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
