import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScenario, type Scenario } from './helpers/scenario.ts';
import { freePort } from './helpers/warren-processes.ts';
import { waitUntil } from './helpers/wait-until.ts';

/**
 * The OpenAI front door while processes die mid-stream: the client sees the
 * whole answer or a clear error, never a silently glued or truncated one, and
 * the job's result is never lost (it is read back on another replica).
 */

/** 12 chunks 150 ms apart: a stream that lasts about two seconds. */
const LLM = { latencyMs: 20, streamChunks: 12, streamChunkDelayMs: 150 };
const PROMPT = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
const ANSWER = `fake-llm reply to: "${PROMPT}"`;

async function finalResult(apiUrl: string, id: string): Promise<{ status: string; content: string | undefined; attempts: number }> {
  let view: { status: string; result?: { choices?: { message?: { content?: string } }[] }; attempts?: unknown[] } = { status: 'unknown' };
  await waitUntil(
    async () => {
      const res = await fetch(`${apiUrl}/v1/jobs/${id}`);
      if (res.status !== 200) return false;
      view = (await res.json()) as typeof view;
      return view.status === 'succeeded';
    },
    30_000,
    `job ${id} succeeded`,
  );
  return { status: view.status, content: view.result?.choices?.[0]?.message?.content, attempts: view.attempts?.length ?? 0 };
}

describe('front door: a process dies mid-stream', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await createScenario('stream-kill', { llm: LLM, topology: { openai: true } });
  });
  afterAll(async () => s?.cleanup());

  it('worker SIGKILL mid-stream: the client gets a clear error naming the job, the job is run again and keeps the whole answer', async () => {
    const api = await s.startApi('api-1', await freePort());
    const worker1 = await s.startWorker('worker-1');
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'warren-fake', messages: [{ role: 'user', content: PROMPT }], stream: true }).withResponse();
    const id = response.headers.get('x-warren-job-id') as string;
    let text = '';
    let killed = false;
    const outcome = await (async () => {
      for await (const chunk of data) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (!killed && text.length > 0) {
          killed = true;
          worker1.kill('SIGKILL');
          // The broker gives the job back only once a worker consumes again.
          void s.startWorker('worker-2');
        }
      }
      return 'complete' as const;
    })().catch((err: unknown) => err);
    expect((await worker1.exited).signal).toBe('SIGKILL');
    // Part of the answer went out, then the job ran again from the start: that must not be glued on.
    expect(outcome).toBeInstanceOf(OpenAI.APIError);
    expect((outcome as InstanceType<typeof OpenAI.APIError>).code).toBe('stream_interrupted');
    expect((outcome as InstanceType<typeof OpenAI.APIError>).message).toContain(id);
    expect(text.length).toBeGreaterThan(0);
    expect(ANSWER.startsWith(text)).toBe(true);
    const final = await finalResult(api.url, id);
    expect(final.content).toBe(ANSWER);
  });

  it('API SIGKILL mid-stream: the client sees the connection fail, the job completes and another replica serves its result', async () => {
    const apiA = await s.startApi('api-a', await freePort());
    const apiB = await s.startApi('api-b', await freePort());
    const client = new OpenAI({ baseURL: `${apiA.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'warren-fake', messages: [{ role: 'user', content: `${PROMPT} again` }], stream: true }).withResponse();
    const id = response.headers.get('x-warren-job-id') as string;
    let text = '';
    let killed = false;
    const outcome = await (async () => {
      for await (const chunk of data) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (!killed && text.length > 0) {
          killed = true;
          apiA.proc.kill('SIGKILL');
        }
      }
      return 'complete' as const;
    })().catch((err: unknown) => err);
    expect((await apiA.proc.exited).signal).toBe('SIGKILL');
    // The body was cut: the iteration fails instead of ending as if the answer were complete.
    expect(outcome).toBeInstanceOf(Error);
    expect(`fake-llm reply to: "${PROMPT} again"`.startsWith(text)).toBe(true);
    expect(text).not.toBe(`fake-llm reply to: "${PROMPT} again"`);
    const final = await finalResult(apiB.url, id);
    expect(final.content).toBe(`fake-llm reply to: "${PROMPT} again"`);
    expect(final.attempts).toBe(1);
    // Resuming on the survivor through the job's events ends with the whole result.
    const events = await (await fetch(`${apiB.url}/v1/jobs/${id}/events`)).text();
    expect(events).toContain(`fake-llm reply to: \\"${PROMPT} again\\"`);
  });
});
