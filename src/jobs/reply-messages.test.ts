import { describe, expect, it } from 'vitest';
import { decodeReplies, encodeReplyBatch, MAX_REPLY_BATCH_ITEMS, type ReplyMessage } from './reply-messages.ts';

const chunk = (seq: number, jobId = 'j1'): ReplyMessage => ({ kind: 'chunk', jobId, run: 'r1', attempt: 1, seq, chunk: { choices: [{ delta: { content: `c${seq}` } }] } });

describe('reply messages', () => {
  it('sends a lone reply as itself (an API replica without batch support still reads it)', () => {
    const body = encodeReplyBatch([JSON.stringify(chunk(0))]);
    expect(JSON.parse(body.toString())).toEqual(chunk(0));
    expect(decodeReplies(body)).toEqual([chunk(0)]);
  });

  it('carries several replies of several jobs in one batch, in order', () => {
    const items = [chunk(0, 'a'), chunk(0, 'b'), chunk(1, 'a'), { kind: 'done', jobId: 'b', run: 'r1', attempt: 1, seq: 1, result: { id: 'x' } } as ReplyMessage];
    const body = encodeReplyBatch(items.map((m) => JSON.stringify(m)));
    expect(JSON.parse(body.toString()).kind).toBe('batch');
    expect(decodeReplies(body)).toEqual(items);
  });

  it('leaves out what is not a reply and keeps the rest of a batch', () => {
    const body = Buffer.from(JSON.stringify({ kind: 'batch', items: [chunk(0), { kind: 'chunk', jobId: 'j1' }, 'junk', { kind: 'batch', items: [chunk(5)] }, chunk(1)] }));
    expect(decodeReplies(body)).toEqual([chunk(0), chunk(1)]);
  });

  it('decodes nothing from a body that is not JSON, not a reply, or a batch over the limit', () => {
    expect(decodeReplies(Buffer.from('{not json'))).toEqual([]);
    expect(decodeReplies(Buffer.from('{"kind":"chunk"}'))).toEqual([]);
    const tooMany = Array.from({ length: MAX_REPLY_BATCH_ITEMS + 1 }, (_, i) => chunk(i));
    expect(decodeReplies(Buffer.from(JSON.stringify({ kind: 'batch', items: tooMany })))).toEqual([]);
  });
});
