import { describe, expect, it } from 'vitest';
import { topologySchema } from '../../config/topology-schema.ts';
import { prettyText, preValue, SHOWN_CHARS } from './render-value.ts';
import { routeQueues } from './topology-page.ts';
import { payloadSection } from './job-payload-section.ts';

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

  it("renders a job's payload pretty-printed and escaped, cut for display, with a download and a note when the history kept only its first part", async () => {
    const text = JSON.stringify({ messages: [{ role: 'user', content: '<script>alert(1)</script>' }] });
    const whole = String(await payloadSection('j:1', 'succeeded', { stored: true, text, storedBytes: text.length, totalBytes: text.length, truncated: false }));
    expect(whole).toContain('&quot;content&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;');
    expect(whole).toContain('{\n  &quot;messages&quot;');
    expect(whole).not.toContain('<script>');
    expect(whole).toContain('href="/console/jobs/j%3A1/payload"');
    expect(whole).toContain(`Download the payload (${text.length} bytes)`);
    expect(whole).not.toContain('payload-shown');
    expect(whole).not.toContain('payload-truncated');

    const part = '{"input":"' + 'a'.repeat(65_526);
    const cut = String(await payloadSection('j2', 'dead-lettered', { stored: true, text: part, storedBytes: 65_536, totalBytes: 1_048_600, truncated: true }));
    expect(cut).toContain(`Showing the first ${SHOWN_CHARS.toLocaleString('en')} of 65,536 characters.`);
    expect(cut).toContain('submitted with a payload of 1,048,600 bytes; the job history keeps its first 65,536 bytes');
    expect(cut).toContain('Its whole message is in its dead-letter queue');
    expect(cut).toContain('Download the stored part (65,536 bytes)');
    expect(cut.length).toBeLessThan(SHOWN_CHARS + 2_000);

    const none = String(await payloadSection('j3', 'queued', { stored: false, code: 'PAYLOAD_NOT_STORED', message: 'no <b>payload</b>' }));
    expect(none).toContain('no &lt;b&gt;payload&lt;/b&gt; <span class="muted">(PAYLOAD_NOT_STORED)</span>');
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
