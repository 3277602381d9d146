import { describe, expect, it } from 'vitest';
import type { FeedItem, JobFeed } from './job-feed.ts';
import { relayStream } from './stream-relay.ts';

/** A feed that hands out `items` in order, then times out. */
function feedOf(items: FeedItem[]): JobFeed & { closed: boolean } {
  const f = {
    closed: false,
    next: async () => items.shift() ?? ('timeout' as const),
    poll: () => undefined,
    close() {
      f.closed = true;
    },
  };
  return f;
}

/** A feed whose wait ends with `aborted` (the replica shuts down) after `items`. */
function abortingFeed(items: FeedItem[]): JobFeed {
  return { next: async () => items.shift() ?? ('aborted' as const), poll: () => undefined, close() {} };
}

const chunk = (run: string, seq: number, content: string, attempt = 1): FeedItem => ({ kind: 'chunk', jobId: 'j', run, attempt, seq, chunk: { id: 'c', choices: [{ index: 0, delta: { content } }] } });

async function read(items: FeedItem[]): Promise<{ frames: string[]; outcome: string | undefined; closed: boolean }> {
  const [first, ...rest] = items;
  const feed = feedOf(rest);
  let outcome: string | undefined;
  const body = relayStream({ jobId: 'j', feed, first: first!, deadline: Date.now() + 1_000, includeUsage: false, onEnd: (o) => (outcome = o) });
  const text = await new Response(body).text();
  return { frames: text.split('\n\n').filter((f) => f !== '').map((f) => f.replace(/^data: /, '')), outcome, closed: feed.closed };
}

describe('stream relay', () => {
  it('relays the chunks of one run in order and ends with [DONE] on the worker\'s done', async () => {
    const r = await read([chunk('a', 0, 'he'), chunk('a', 1, 'llo'), { kind: 'done', jobId: 'j', run: 'a', attempt: 1, seq: 2, result: {} }]);
    expect(r.frames.map((f) => (f === '[DONE]' ? f : JSON.parse(f).choices[0].delta.content))).toEqual(['he', 'llo', '[DONE]']);
    expect(r.outcome).toBe('done');
    expect(r.closed).toBe(true);
  });

  it('ends with an error frame when another run starts after part of the answer went out (never glued)', async () => {
    const r = await read([chunk('a', 0, 'he'), chunk('b', 0, 'hello', 1)]);
    expect(r.frames).toHaveLength(2);
    const err = JSON.parse(r.frames[1]!).error;
    expect(err.code).toBe('stream_interrupted');
    expect(err.job_id).toBe('j');
    expect(r.outcome).toBe('error');
  });

  it('lets a run that sent nothing be replaced silently', async () => {
    const r = await read([{ kind: 'view', view: { id: 'j', status: 'retrying', createdAt: '', updatedAt: '', attempts: [] } }, chunk('b', 0, 'hi', 2), { kind: 'done', jobId: 'j', run: 'b', attempt: 2, seq: 1, result: {} }]);
    expect(r.frames.at(-1)).toBe('[DONE]');
    expect(r.frames).toHaveLength(2);
  });

  it('ends with an error frame when a chunk is missing', async () => {
    const r = await read([chunk('a', 0, 'he'), chunk('a', 2, 'lo')]);
    expect(JSON.parse(r.frames[1]!).error.message).toContain('lost on the way');
  });

  it('turns a whole result into chunks when no live chunk came, and a failed job into an error frame', async () => {
    const result = { id: 'x', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }], usage: { total_tokens: 3 } };
    const ok = await read([{ kind: 'view', view: { id: 'j', status: 'succeeded', createdAt: '', updatedAt: '', attempts: [], result } }]);
    expect(JSON.parse(ok.frames[0]!).choices[0].delta.content).toBe('whole');
    expect(ok.frames.at(-1)).toBe('[DONE]');
    const failed = await read([chunk('a', 0, 'he'), { kind: 'view', view: { id: 'j', status: 'dead-lettered', createdAt: '', updatedAt: '', attempts: [{ attempt: 1, status: 'dead-lettered', error: { class: 'content-filter', message: 'filtered' } }] } }]);
    expect(JSON.parse(failed.frames[1]!).error.code).toBe('content_filter');
  });

  it('never ends a stream the replica stops relaying (shutdown) as if it were complete', async () => {
    const body = relayStream({ jobId: 'j', feed: abortingFeed([]), first: chunk('a', 0, 'he'), deadline: Date.now() + 1_000, includeUsage: false, onEnd: () => undefined });
    const frames = (await new Response(body).text()).split('\n\n').filter((f) => f !== '');
    expect(frames).toHaveLength(2);
    expect(JSON.parse(frames[1]!.replace(/^data: /, '')).error.code).toBe('stream_interrupted');
  });

  it('writes the frames of the items that are there together (a worker batch) in one piece, in order', async () => {
    const ready: FeedItem[] = [chunk('a', 1, 'l'), chunk('a', 2, 'lo')];
    const later: FeedItem[] = [chunk('a', 3, '!'), { kind: 'done', jobId: 'j', run: 'a', attempt: 1, seq: 4, result: {} }];
    const feed: JobFeed = { next: async () => later.shift() ?? ('timeout' as const), poll: () => ready.shift() ?? (later.length < 2 ? later.shift() : undefined), close() {} };
    const body = relayStream({ jobId: 'j', feed, first: chunk('a', 0, 'he'), deadline: Date.now() + 1_000, includeUsage: false, onEnd: () => undefined });
    const reader = body.getReader();
    const writes: string[][] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      writes.push(new TextDecoder().decode(r.value).split('\n\n').filter((f) => f !== '').map((f) => f.replace(/^data: /, '')));
    }
    const content = (f: string) => (f === '[DONE]' ? f : JSON.parse(f).choices[0].delta.content);
    // The first chunk and the two already there: one write; then the next chunk with the done that was there with it.
    expect(writes.map((w) => w.map(content))).toEqual([
      ['he', 'l', 'lo'],
      ['!', '[DONE]'],
    ]);
  });

  it('sends the whole answer when the first chunks were lost before anything went out', async () => {
    const result = { id: 'x', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }] };
    const r = await read([chunk('a', 1, 'llo'), chunk('a', 2, '!'), { kind: 'done', jobId: 'j', run: 'a', attempt: 1, seq: 3, result }]);
    expect(JSON.parse(r.frames[0]!).choices[0].delta.content).toBe('whole');
    expect(r.frames.at(-1)).toBe('[DONE]');
  });
});
