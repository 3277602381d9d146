import { describe, expect, it } from 'vitest';
import { topologySchema } from '../../config/topology-schema.ts';
import { prettyText, preValue, SHOWN_CHARS } from './render-value.ts';
import { routeQueues } from './topology-page.ts';

describe('console rendering', () => {
  it('pretty-prints JSON, keeps other text as it is, cuts long values and links the whole', async () => {
    expect(prettyText('{"a":[1,2]}').text).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyText('not json <b>').text).toBe('not json <b>');
    const long = prettyText('x'.repeat(SHOWN_CHARS + 10));
    expect(long).toMatchObject({ cut: true, length: SHOWN_CHARS + 10 });
    expect(long.text.length).toBe(SHOWN_CHARS);
    const html = String(await preValue(`<script>alert(1)</script>${'y'.repeat(SHOWN_CHARS)}`, '/console/x?id=a&b=<c>'));
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('href="/console/x?id=a&amp;b=&lt;c&gt;"');
    expect(html).toContain(`Showing the first ${SHOWN_CHARS.toLocaleString('en')}`);
  });

  it('names the queues a route reaches through topic, fanout and exchange-to-exchange bindings, placeholders matching any word', () => {
    const t = topologySchema.parse({
      version: 1,
      exchanges: { jobs: { type: 'topic' }, audit: { type: 'fanout' } },
      queues: { standard: {}, batch: {}, audit: {}, other: {} },
      bindings: [
        { source: 'jobs', queue: 'standard', routingKey: 'llm.standard.#' },
        { source: 'jobs', queue: 'batch', routingKey: 'llm.batch.*' },
        { source: 'jobs', queue: 'other', routingKey: 'tasks.#' },
        { source: 'jobs', exchange: 'audit', routingKey: '#' },
        { source: 'audit', queue: 'audit' },
      ],
      routes: { chat: { exchange: 'jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion' }, task: { exchange: 'jobs', routingKey: 'tasks.run', schema: 'task' } },
    });
    expect(routeQueues(t, 'chat')).toEqual(['audit', 'batch', 'standard']);
    expect(routeQueues(t, 'task')).toEqual(['audit', 'other']);
  });
});
