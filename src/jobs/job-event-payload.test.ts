import { describe, expect, it } from 'vitest';
import { decodePayloadRecords, eventPayload, storedPayload } from './job-event-payload.ts';
import type { JobEvent } from './job-event.ts';

const queued = (fields: Partial<JobEvent>): JobEvent => ({ jobId: 'j', status: 'queued', attempt: 1, at: 'x', ...fields });

describe('eventPayload', () => {
  it('keeps a body within the cap whole, with its size', () => {
    const body = Buffer.from('{"a":"é"}');
    expect(eventPayload(body, 64)).toEqual({ payload: '{"a":"é"}', payloadBytes: body.length });
    expect(eventPayload(body, body.length)).toEqual({ payload: '{"a":"é"}', payloadBytes: body.length });
  });

  it('cuts a longer body at the cap, never inside a character', () => {
    const body = Buffer.from('{"a":"ééé"}'); // é is 2 bytes: {"a":" is 6 bytes, then é at 6-7, 8-9, 10-11
    expect(eventPayload(body, 7)).toEqual({ payload: '{"a":"', payloadBytes: body.length });
    expect(eventPayload(body, 8)).toEqual({ payload: '{"a":"é', payloadBytes: body.length });
    const emoji = Buffer.from('😀😀'); // 4 bytes each
    for (let cap = 1; cap < 4; cap++) expect(eventPayload(emoji, cap)?.payload).toBe('');
    expect(eventPayload(emoji, 5)?.payload).toBe('😀');
  });

  it('writes nothing when payloads are off', () => {
    expect(eventPayload(Buffer.from('{}'), 0)).toBeUndefined();
  });
});

describe('storedPayload', () => {
  it('reads a whole or a cut payload back from a queued event', () => {
    expect(storedPayload(queued({ payload: '{"a":"é"}', payloadBytes: 10 }))).toEqual({ text: '{"a":"é"}', storedBytes: 10, totalBytes: 10, truncated: false });
    expect(storedPayload(queued({ payload: '{"a', payloadBytes: 1_000_000 }))).toEqual({ text: '{"a', storedBytes: 3, totalBytes: 1_000_000, truncated: true });
  });

  it('is undefined for an event without a payload or of another status; a size smaller than the text says nothing of a cut', () => {
    expect(storedPayload(queued({}))).toBeUndefined();
    expect(storedPayload({ jobId: 'j', status: 'running', attempt: 1, at: 'x', payload: '{}' })).toBeUndefined();
    expect(storedPayload(queued({ payload: '{"a":1}' }))).toMatchObject({ totalBytes: 7, truncated: false });
    expect(storedPayload(queued({ payload: '{"a":1}', payloadBytes: 2 }))).toMatchObject({ totalBytes: 7, truncated: false });
  });
});

describe('decodePayloadRecords', () => {
  it('reads the records of a job.payloads message and skips malformed ones', () => {
    const records = [
      { jobId: 'a', payload: '{"x":"\\"jobId\\""}', payloadBytes: 12 },
      { jobId: '', payload: '{}', payloadBytes: 2 },
      { jobId: 'b', payload: { not: 'text' }, payloadBytes: 2 },
      { jobId: 'c', payload: '{}', payloadBytes: -1 },
      'junk',
      { jobId: 'd', payload: '{"y', payloadBytes: 1_000 },
    ];
    expect(decodePayloadRecords(Buffer.from(JSON.stringify(records)))).toEqual([records[0], records[5]]);
    expect(decodePayloadRecords(Buffer.from('not json'))).toEqual([]);
    expect(decodePayloadRecords(Buffer.from('{"jobId":"a","payload":"{}","payloadBytes":2}'))).toEqual([]);
  });
});
