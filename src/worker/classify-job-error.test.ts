import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { PermanentJobError, TransientJobError } from '../errors/index.ts';
import { classifyJobError, InvalidPayloadError } from './classify-job-error.ts';

describe('classifyJobError', () => {
  it('puts the job timeout first, whatever the handler threw', () => {
    expect(classifyJobError(new Error('aborted'), { timedOutAfterMs: 1500 })).toEqual({ errorClass: 'timeout', message: 'job timed out after 1500ms' });
  });
  it("knows warren's job errors", () => {
    expect(classifyJobError(new PermanentJobError('no such customer')).errorClass).toBe('permanent');
    expect(classifyJobError(new TransientJobError('busy', { retryAfterMs: 300 }))).toEqual({ errorClass: 'transient', message: 'busy', retryAfterMs: 300 });
    expect(classifyJobError(new InvalidPayloadError('bad')).errorClass).toBe('invalid-payload');
  });
  it('finds an LLM error through a cause chain, and calls anything else unknown', () => {
    const llm = APIError.generate(503, { error: { message: 'overloaded' } }, undefined, new Headers({ 'retry-after': '3' }));
    const wrapped = new Error('summary step failed', { cause: llm });
    expect(classifyJobError(wrapped)).toEqual({ errorClass: 'server-error', message: 'summary step failed', retryAfterMs: 3000, status: 503 });
    expect(classifyJobError(new TypeError('x is undefined'))).toEqual({ errorClass: 'unknown', message: 'x is undefined' });
    expect(classifyJobError('a string')).toEqual({ errorClass: 'unknown', message: 'a string' });
  });
});
