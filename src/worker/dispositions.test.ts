import { describe, expect, it } from 'vitest';
import { errorClassSchema } from '../config/topology-schema.ts';
import { DISPOSITION_TABLE, decideDisposition } from './dispositions.ts';

describe('disposition table', () => {
  it('has a row for every error class', () => {
    expect(Object.keys(DISPOSITION_TABLE).sort()).toEqual([...errorClassSchema.options].sort());
  });

  it.each([
    ['rate-limited', 'retry'],
    ['server-error', 'retry'],
    ['timeout', 'retry'],
    ['connection', 'retry'],
    ['transient', 'retry'],
    ['unknown', 'retry'],
    ['bad-request', 'dead-letter'],
    ['context-length', 'dead-letter'],
    ['auth', 'dead-letter'],
    ['not-found', 'dead-letter'],
    ['unprocessable', 'dead-letter'],
    ['content-filter', 'dead-letter'],
    ['permanent', 'dead-letter'],
    ['invalid-payload', 'dead-letter'],
  ] as const)('%s -> %s by default', (cls, action) => {
    const d = decideDisposition({ errorClass: cls, attempt: 1, maxAttempts: 5 });
    expect(d.kind).toBe(action);
    if (d.kind === 'dead-letter') expect(d.reason).toBe(cls);
    if (d.kind === 'retry') expect(d.nextAttempt).toBe(2);
  });

  it('dead-letters a retryable failure with attempts-exhausted on the last attempt', () => {
    expect(decideDisposition({ errorClass: 'server-error', attempt: 5, maxAttempts: 5 })).toEqual({ kind: 'dead-letter', reason: 'attempts-exhausted' });
    expect(decideDisposition({ errorClass: 'server-error', attempt: 4, maxAttempts: 5 })).toEqual({ kind: 'retry', nextAttempt: 5 });
  });

  it('gives a queue without retry policy exactly one attempt', () => {
    expect(decideDisposition({ errorClass: 'timeout', attempt: 1, maxAttempts: 1 })).toEqual({ kind: 'dead-letter', reason: 'attempts-exhausted' });
  });

  it('applies per-consumer overrides', () => {
    expect(decideDisposition({ errorClass: 'context-length', attempt: 1, maxAttempts: 3, override: 'retry' })).toEqual({ kind: 'retry', nextAttempt: 2 });
    expect(decideDisposition({ errorClass: 'server-error', attempt: 1, maxAttempts: 3, override: 'dead-letter' })).toEqual({ kind: 'dead-letter', reason: 'server-error' });
    expect(decideDisposition({ errorClass: 'context-length', attempt: 1, maxAttempts: 3, override: { route: 'chat-large' } })).toEqual({ kind: 'forward', route: 'chat-large' });
  });

  it('never forwards to a route the job was already forwarded to', () => {
    expect(decideDisposition({ errorClass: 'context-length', attempt: 1, maxAttempts: 3, override: { route: 'chat-large' }, forwardedTo: ['chat-large'] })).toEqual({
      kind: 'dead-letter',
      reason: 'context-length',
    });
  });

  it('never retries or forwards an invalid payload, whatever the override', () => {
    expect(decideDisposition({ errorClass: 'invalid-payload', attempt: 1, maxAttempts: 5, override: 'retry' })).toEqual({ kind: 'dead-letter', reason: 'invalid-payload' });
    expect(decideDisposition({ errorClass: 'invalid-payload', attempt: 1, maxAttempts: 5, override: { route: 'x' } })).toEqual({ kind: 'dead-letter', reason: 'invalid-payload' });
  });
});
