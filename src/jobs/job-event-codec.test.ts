import { describe, expect, it } from 'vitest';
import { decodeJobEvents } from './job-event-codec.ts';

const event = (n: number) => ({ jobId: `j${n}`, status: 'queued' as const, attempt: 1, at: '2025-01-01T00:00:00.000Z', source: 'api' });

describe('decodeJobEvents', () => {
  it('accepts one event or an array, and counts invalid entries', () => {
    expect(decodeJobEvents(Buffer.from(JSON.stringify(event(1)))).events).toHaveLength(1);
    expect(decodeJobEvents(Buffer.from(JSON.stringify([event(1), { nope: 1 }, event(2)])))).toMatchObject({ invalid: 1, events: [{ jobId: 'j1' }, { jobId: 'j2' }] });
    expect(decodeJobEvents(Buffer.from('not json'))).toEqual({ events: [], invalid: 1 });
  });
});

describe('decodeJobEvents fast path', () => {
  it('gives the same result as the zod schema for simple and complex events', async () => {
    const { jobEventSchema } = await import('./job-event.ts');
    const samples: unknown[] = [
      { jobId: 'a', status: 'queued', attempt: 1, at: 'x', route: 'chat', source: 'api' },
      { jobId: 'a', status: 'running', at: 'x' },
      { jobId: 'a', status: 'succeeded', attempt: 2, at: 'x', result: { t: 1 }, usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 } },
      { jobId: 'a', status: 'retrying', attempt: 1, at: 'x', error: { class: 'c', message: 'm' }, retryInMs: 5 },
      { jobId: '', status: 'queued', at: 'x' },
      { jobId: 'a', status: 'exploded', at: 'x' },
      { jobId: 'a', status: 'queued', at: 'x', attempt: -1 },
      { jobId: 'a', status: 'queued', at: 'x', attempt: 1.5 },
      { jobId: 'a', status: 'queued', at: 'x', route: 7 },
      { jobId: 'a', status: 'queued', at: 'x', extra: 'stripped' },
      { jobId: 'a', status: 'queued', attempt: 1, at: 'x', route: 'chat', source: 'api', owner: 'app' },
      { jobId: 'a', status: 'queued', at: 'x', owner: 7 },
      { jobId: 'a', status: 'queued', attempt: 1, at: 'x', owner: 'app', payload: '{"messages":[{"content":"\\"jobId\\": \\"x\\""}]}', payloadBytes: 40 },
      { jobId: 'a', status: 'queued', at: 'x', payload: '{"cut', payloadBytes: 1_000_000 },
      { jobId: 'a', status: 'queued', at: 'x', payload: { not: 'a string' } },
      { jobId: 'a', status: 'queued', at: 'x', payload: 'p', payloadBytes: -1 },
      { jobId: 'a', status: 'queued', at: 'x', payload: 'p', payloadBytes: 1.5 },
      { jobId: 'a', status: 'queued', at: 'x', payload: 'p', payloadBytes: '1' },
    ];
    for (const s of samples) {
      const parsed = jobEventSchema.safeParse(s);
      const decoded = decodeJobEvents(Buffer.from(JSON.stringify(s)));
      expect(decoded.events).toEqual(parsed.success ? [parsed.data] : []);
    }
  });
});
