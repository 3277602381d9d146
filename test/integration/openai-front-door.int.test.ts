import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../src/api/start-api.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { APP_KEY, FRONT_DOOR_KEYS, startFrontDoorRig, type FrontDoorRig } from './helpers/front-door.ts';

/**
 * The OpenAI-compatible front door through the official `openai` SDK, with
 * only `baseURL` changed, against the real broker, a real worker running the
 * shipped chat-completion handler and the fake LLM (OpenAI-shaped, and once
 * ollama/vLLM-shaped).
 */

let rig: FrontDoorRig;
let sdk: OpenAI;

beforeAll(async () => {
  rig = await startFrontDoorRig('front-door', { waitTimeout: '3s' });
  sdk = rig.client();
}, 120_000);

afterAll(async () => {
  await rig?.close();
}, 60_000);

async function jobView(id: string, until: (v: { status: string }) => boolean = (v) => v.status === 'succeeded'): Promise<Record<string, any>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await fetch(`${rig.api.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${APP_KEY}` } });
    const view = (await res.json()) as Record<string, any>;
    if (res.status === 200 && until(view as { status: string })) return view;
    if (Date.now() > deadline) throw new Error(`job ${id} never matched: ${JSON.stringify(view).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } }, required: ['city', 'days'], additionalProperties: false },
  },
};

describe('OpenAI front door through the openai SDK', () => {
  it('lists the alias map as models, and only the ones the key may use', async () => {
    const ids = (await sdk.models.list()).data.map((m) => m.id).sort();
    expect(ids).toEqual(['full-mini', 'gpt-4o-mini', 'llama3.2', 'plain-mini']);
    expect((await sdk.models.retrieve('llama3.2')).id).toBe('llama3.2');
    await expect(sdk.models.retrieve('gpt-5')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers a plain completion as the provider returned it; the job keeps it with tokens and cost', async () => {
    const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi' }], seed: 7, user: 'u-1' }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toBe('fake-llm reply to: "Say hi"');
    expect(data.system_fingerprint).toBe('fp_warren_fake');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    const id = response.headers.get('x-warren-job-id') as string;
    const view = await jobView(id);
    expect(view.result).toEqual(data);
    // 0.15 / 0.6 per million tokens (the test topology's price of gpt-4o-mini).
    const expected = (data.usage!.prompt_tokens * 0.15 + data.usage!.completion_tokens * 0.6) / 1e6;
    expect(view.usage).toMatchObject({ promptTokens: data.usage!.prompt_tokens, completionTokens: data.usage!.completion_tokens, model: 'gpt-4o-mini' });
    expect(view.usage.cost).toBeCloseTo(expected, 12);
    // Per-key isolation as for every job: another key gets the same 404 as for an unknown id.
    const other = await fetch(`${rig.api.url}/v1/jobs/${id}`, { headers: { authorization: 'Bearer fd-limited-0123456789' } });
    expect(other.status).toBe(404);
  });

  it('streams the provider chunks through the queue, usage in the last chunk, and GET /v1/jobs/{id}/events resumes with the result', async () => {
    const { data: stream, response } = await sdk.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me three short things about rabbits please' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('fake-llm reply to: "Tell me three short things about rabbits please"');
    // The fake LLM cut the text in 4: role chunk + 4 pieces + finish + usage.
    expect(chunks.length).toBe(7);
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');

    const id = response.headers.get('x-warren-job-id') as string;
    const events = await fetch(`${rig.api.url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${APP_KEY}` } });
    const sse = await events.text();
    const last = sse.trim().split('\n').filter((l) => l.startsWith('data:')).at(-1) as string;
    const final = JSON.parse(last.slice(5)) as { status: string; result: { choices: { message: { content: string } }[] } };
    expect(final.status).toBe('succeeded');
    expect(final.result.choices[0]?.message.content).toBe(text);
  });

  it('relays concurrent streams whose chunks come in bursts whole and in order, several replies to a message', async () => {
    const reg = rig.worker.metrics.registry;
    const total = async (name: string): Promise<number> => (await reg.getSingleMetric(name)?.get())?.values.reduce((a, v) => a + v.value, 0) ?? 0;
    const names = ['warren_front_door_replies_sent_total', 'warren_front_door_reply_messages_total', 'warren_front_door_replies_dropped_total'] as const;
    const before = await Promise.all(names.map(total));
    // No pause between chunks: each answer's chunks reach the worker together, and 20 streams overlap.
    const streams = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { data: stream, response } = await sdk.chat.completions
          .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `burst ${i} of twenty [[chunk-delay:0]]` }], stream: true, stream_options: { include_usage: true } })
          .withResponse();
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
        return { id: response.headers.get('x-warren-job-id') as string, chunks };
      }),
    );
    for (const { id, chunks } of streams) {
      // role chunk + 4 pieces + finish + usage, in the provider's order; or, when the job's `succeeded` event came in
      // before its first live chunk (a whole answer in one burst races its own event), the answer sent whole: one
      // chunk with the message, finish, usage.
      expect([7, 3]).toContain(chunks.length);
      expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
      expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe((await jobView(id)).result.choices[0].message.content);
    }
    const [sent, messages, dropped] = (await Promise.all(names.map(total))).map((v, i) => v - (before[i] as number));
    // 20 × (7 chunks + the final answer) replies, none dropped, fewer AMQP messages than replies.
    expect(sent).toBe(160);
    expect(dropped).toBe(0);
    expect(messages).toBeLessThan(sent as number);
  });

  it('runs a two-turn tool loop, and streams tool-call deltas that the SDK assembles', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weatherTool], tool_choice: 'auto', parallel_tool_calls: false });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'fake-llm reply to: "Weather in Paris?"', days: 1 });
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' });
    const second = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weatherTool] });
    expect(second.choices[0]?.message.content).toBe('fake-llm answer from tool result: {"temp":21}');

    const streamed = sdk.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weatherTool] });
    const final = await streamed.finalChatCompletion();
    const streamedCall = final.choices[0]?.message.tool_calls?.[0];
    expect(streamedCall?.type === 'function' ? JSON.parse(streamedCall.function.arguments) : undefined).toEqual({ city: 'fake-llm reply to: "Weather in Oslo?"', days: 1 });
  });

  it('returns JSON-schema output (response_format passes through to the provider)', async () => {
    const res = await sdk.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'A person' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false } } },
    });
    expect(JSON.parse(res.choices[0]?.message.content ?? '')).toEqual({ name: 'fake-llm reply to: "A person"', age: 1 });
  });

  it('works against an ollama/vLLM-shaped server too: plain, streamed and tool calls', async () => {
    const plain = await sdk.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello local' }] });
    expect(plain.choices[0]?.message.content).toBe('fake-llm reply to: "Hello local"');
    expect(plain.system_fingerprint).toBeUndefined();
    const stream = await sdk.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'one two three four five six' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('fake-llm reply to: "one two three four five six"');
    const tools = await sdk.chat.completions.stream({ model: 'llama3.2', messages: [{ role: 'user', content: 'Weather in Rome?' }], tools: [weatherTool] }).finalChatCompletion();
    const call = tools.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.name : undefined).toBe('get_weather');
  });

  it('refuses bad input with a 400 in OpenAI shape naming the problem, before anything is queued', async () => {
    const bad = async (body: Record<string, unknown>, key = APP_KEY): Promise<InstanceType<typeof OpenAI.APIError>> => {
      try {
        await rig.client(key).chat.completions.create(body as never);
      } catch (err) {
        expect(err).toBeInstanceOf(OpenAI.APIError);
        return err as InstanceType<typeof OpenAI.APIError>;
      }
      throw new Error('accepted');
    };
    const msg = [{ role: 'user', content: 'x' }];
    const unknownModel = await bad({ model: 'gpt-9', messages: msg });
    expect(unknownModel).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unknownModel.code).toBe('model_not_found');
    expect(unknownModel.param).toBe('model');
    const unknownField = await bad({ model: 'gpt-4o-mini', messages: msg, temprature: 0.3 });
    expect(unknownField).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unknownField.message).toContain('temprature: unknown field');
    const badSchema = await bad({ model: 'gpt-4o-mini', messages: msg, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'strng' } } } } }] });
    expect(badSchema).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badSchema.message).toContain('tools.0.function.parameters.properties.a.type');
    const tooMany = await bad({ model: 'gpt-4o-mini', messages: msg, n: 3 });
    expect(tooMany.param).toBe('n');
    const noStream = await bad({ model: 'plain-mini', messages: msg, stream: true });
    expect(noStream).toBeInstanceOf(OpenAI.BadRequestError);
    expect(noStream.code).toBe('stream_not_supported');
    const noKey = await bad({ model: 'gpt-4o-mini', messages: msg }, 'wrong-key-0123456789');
    expect(noKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(noKey.type).toBe('authentication_error');
  });

  it('maps job outcomes to statuses the SDK turns into its error classes', async () => {
    // Dead-lettered at once (context length is never retried): the provider's own status and code.
    const dead = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'too long [[fail:400:context-length]]' }] }).catch((e: unknown) => e);
    expect(dead).toBeInstanceOf(OpenAI.BadRequestError);
    expect((dead as InstanceType<typeof OpenAI.APIError>).code).toBe('context_length_exceeded');
    expect((dead as InstanceType<typeof OpenAI.APIError>).message).toContain('maximum context length');
    // A full queue: the broker refused the job, nothing queued.
    const full = await sdk.chat.completions.create({ model: 'full-mini', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(OpenAI.InternalServerError);
    expect((full as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((full as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('5');
    // Past the wait limit (3 s): 504 with the job id; the job goes on and keeps its result.
    const slow = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow [[delay:4000]]' }] }).catch((e: unknown) => e);
    expect((slow as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    const jobId = (slow as InstanceType<typeof OpenAI.APIError>).headers?.get('x-warren-job-id') as string;
    expect((slow as { error?: { job_id?: string } }).error?.job_id).toBe(jobId);
    const view = await jobView(jobId);
    expect(view.result.choices[0].message.content).toBe('fake-llm reply to: "slow"');
  });

  it('shows a retry after a partial stream as an error frame, never glued to the next attempt; the job still succeeds', async () => {
    const stream = await sdk.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `cut me ${Date.now()} [[cut-first:1]][[chunk-delay:30]]` }], stream: true })
      .withResponse();
    const id = stream.response.headers.get('x-warren-job-id') as string;
    let text = '';
    const err = await (async () => {
      for await (const c of stream.data) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('stream_interrupted');
    expect(text.length).toBeGreaterThan(0);
    const view = await jobView(id);
    expect(view.attempts.length).toBe(2);
    expect(view.result.choices[0].message.content.startsWith(text)).toBe(true);
    expect(view.result.choices[0].message.content).not.toBe(text + view.result.choices[0].message.content);
  });

  it('a client that leaves mid-stream costs only the job: it completes and keeps its result', async () => {
    const ac = new AbortController();
    const { data, response } = await sdk.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'leaving early one two three four [[chunk-delay:100]]' }], stream: true }, { signal: ac.signal })
      .withResponse();
    for await (const _ of data) {
      ac.abort();
      break;
    }
    const view = await jobView(response.headers.get('x-warren-job-id') as string);
    expect(view.result.choices[0].message.content).toBe('fake-llm reply to: "leaving early one two three four"');
  });

  it('enforces per-key request and token budgets with 429 + Retry-After before publishing, and counts cost per key in /metrics', async () => {
    const limited = rig.client('fd-limited-0123456789');
    await limited.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }] });
    await limited.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'two' }] });
    const third = await limited.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'three' }] }).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(OpenAI.RateLimitError);
    expect((third as InstanceType<typeof OpenAI.APIError>).code).toBe('budget_requests_per_minute');
    expect(Number((third as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after'))).toBeGreaterThan(0);

    const poor = rig.client('fd-poor-key-0123456789');
    await poor.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a fairly long question that costs tokens' }] });
    // The first job's reported tokens reach the ledger through the job events.
    const deadline = Date.now() + 10_000;
    let refused: unknown;
    while (Date.now() < deadline) {
      refused = await poor.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a fairly long question that costs tokens' }] }).catch((e: unknown) => e);
      if (refused instanceof OpenAI.RateLimitError) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('budget_tokens_per_day');

    // A replica started now learns the key's usage from the job events: the budget holds there too.
    const replica = await startApi({ topology: rig.h.topology, port: 0, apiKeys: FRONT_DOOR_KEYS, logger: createSilentLogger(), processMetrics: false });
    try {
      await replica.index.waitUntilCaughtUp(30_000);
      const elsewhere = new OpenAI({ baseURL: `${replica.url}/v1`, apiKey: 'fd-poor-key-0123456789', maxRetries: 0 });
      const there = await elsewhere.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a fairly long question that costs tokens' }] }).catch((e: unknown) => e);
      expect(there).toBeInstanceOf(OpenAI.RateLimitError);
    } finally {
      await replica.close();
    }

    const metrics = await (await fetch(`${rig.api.url}/metrics`, { headers: { authorization: `Bearer ${APP_KEY}` } })).text();
    expect(metrics).toMatch(/warren_llm_cost_total\{route="chat",model="gpt-4o-mini",key="app"\} [0-9.e-]+/);
    expect(metrics).toMatch(/warren_llm_key_tokens_total\{route="chat",model="gpt-4o-mini",key="limited",kind="prompt"\} \d+/);
  });
});
