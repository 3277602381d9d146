import { describe, expect, it } from 'vitest';
import { createTestApp, post } from '../api-test-kit.test-support.ts';

describe('POST /v1/jobs/{route}/batch: the message bodies', () => {
  it('publishes each job as sent when validation leaves it unchanged, else as validated', async () => {
    const t = createTestApp();
    const sent = [' { "model" : "gpt-4o-mini", "messages": [{"role":"user","content":"h\\u00e9llo"}] }', '{"type": "resize"}'];
    const res = await t.app.request('/v1/jobs/chat/batch', post(`{"mode": "best-effort", "jobs": [${sent[0]}]}`));
    expect(res.status).toBe(202);
    expect(t.publisher.published.map((p) => p.content.toString('utf8'))).toEqual([sent[0]?.trim()]);
    const task = await t.app.request('/v1/jobs/task/batch', post(`[${sent[1]}]`));
    expect(task.status).toBe(202);
    // The task schema fills in `input`: the validated job is serialised again.
    expect(JSON.parse(t.publisher.published[1]?.content.toString('utf8') ?? '')).toEqual({ type: 'resize', input: {} });
  });
});
