import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FakeToolCall } from './answer-plan.ts';

/** The part of a chat completion request the fake server reads; anything else is accepted and ignored. */
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(z.looseObject({ role: z.string().min(1), content: z.unknown().optional() }))
    .min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
});

/** A parsed chat completion request. */
export type ChatRequest = z.output<typeof chatRequestSchema>;

/** Text of a message's content, whether a string or an array of content parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      const t = (part as { text?: unknown } | null)?.text;
      if (typeof t === 'string') text += t;
    }
    return text;
  }
  return '';
}

/** Content of the last `user` message (where markers are read). */
export function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m?.role === 'user') return contentText(m.content);
  }
  return '';
}

/** Token estimate like OpenAI's rule of thumb: ~4 characters a token, plus framing per message. */
export function estimatePromptTokens(request: ChatRequest): number {
  let chars = 0;
  for (const m of request.messages) chars += contentText(m.content).length;
  return Math.ceil(chars / 4) + 3 * request.messages.length + 3;
}

/** Tokens of a completion text. */
export function estimateTextTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

// A per-process prefix plus a counter: unique ids without hashing or random calls per request.
const ID_PREFIX = `chatcmpl-fake${randomBytes(4).toString('hex')}`;
let idCounter = 0;

/** A new completion id (`chatcmpl-…`). */
export function nextCompletionId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}${idCounter.toString(36)}`;
}

/** The answer the fake "model" gives, before `max_tokens` truncation. */
export interface Completion {
  content: string | null;
  finishReason: 'stop' | 'length' | 'content_filter' | 'tool_calls';
  promptTokens: number;
  completionTokens: number;
  /** Tool calls instead of text (finishReason `tool_calls`). */
  toolCalls?: FakeToolCall[];
}

/** Wire shape of the answers (see FakeLlmConfig.shape). */
export type WireShape = 'openai' | 'ollama';

/** Applies `max_tokens` / `max_completion_tokens` the way OpenAI does: cut the text, finish_reason `length`. */
export function limitCompletion(request: ChatRequest, text: string): { content: string; finishReason: 'stop' | 'length' } {
  const cap = request.max_completion_tokens ?? request.max_tokens;
  if (cap != null && estimateTextTokens(text) > cap) return { content: text.slice(0, cap * 4), finishReason: 'length' };
  return { content: text, finishReason: 'stop' };
}

function usageOf(completion: Completion): Record<string, number> {
  return { prompt_tokens: completion.promptTokens, completion_tokens: completion.completionTokens, total_tokens: completion.promptTokens + completion.completionTokens };
}

/** The `chat.completion` object of a non-streaming answer. */
export function chatCompletionBody(id: string, model: string, completion: Completion, shape: WireShape = 'openai'): Record<string, unknown> {
  const message: Record<string, unknown> = shape === 'openai' ? { role: 'assistant', content: completion.content, refusal: null } : { role: 'assistant', content: completion.content ?? '' };
  if (completion.toolCalls) message.tool_calls = completion.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
  const choice: Record<string, unknown> = shape === 'openai' ? { index: 0, message, logprobs: null, finish_reason: completion.finishReason } : { index: 0, message, finish_reason: completion.finishReason };
  const body: Record<string, unknown> = { id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model };
  if (shape === 'openai') body.system_fingerprint = 'fp_warren_fake';
  body.choices = [choice];
  body.usage = usageOf(completion);
  return body;
}

/** Cuts `text` into at most `pieces` parts at word boundaries (every part non-empty). */
function splitText(text: string, pieces: number): string[] {
  if (pieces <= 1 || text.length <= 1) return [text];
  const words = text.split(/(?<=\s)/);
  const per = Math.max(1, Math.ceil(words.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < words.length; i += per) out.push(words.slice(i, i + per).join(''));
  return out;
}

/**
 * The server-sent events of a streaming answer, one string per event, `[DONE]`
 * last. `openai` shape: a role chunk, the text in `pieces` chunks (tool calls:
 * name first, arguments in two pieces), a finish chunk, and with
 * `include_usage` a usage chunk without choices. `ollama` shape: no role
 * chunk of its own, each tool call whole in one delta, usage on the finish
 * chunk, none of OpenAI's null fields.
 */
export function chatCompletionEvents(id: string, model: string, completion: Completion, includeUsage: boolean, pieces: number, shape: WireShape = 'openai'): string[] {
  const created = Math.floor(Date.now() / 1000);
  const openai = shape === 'openai';
  const event = (choices: unknown[], usage?: unknown): string => {
    const body: Record<string, unknown> = { id, object: 'chat.completion.chunk', created, model };
    if (openai) body.system_fingerprint = 'fp_warren_fake';
    body.choices = choices;
    if (openai) body.usage = usage ?? null;
    else if (usage !== undefined) body.usage = usage;
    return `data: ${JSON.stringify(body)}\n\n`;
  };
  const choice = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> =>
    openai ? { index: 0, delta, logprobs: null, finish_reason: finish } : { index: 0, delta, finish_reason: finish };
  const out: string[] = [];
  const parts = completion.content ? splitText(completion.content, pieces) : [];
  if (openai) out.push(event([choice({ role: 'assistant', content: '', refusal: null })]));
  parts.forEach((p, i) => out.push(event([choice(!openai && i === 0 ? { role: 'assistant', content: p } : { content: p })])));
  (completion.toolCalls ?? []).forEach((t, index) => {
    if (openai) {
      const half = Math.ceil(t.arguments.length / 2);
      out.push(event([choice({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] })]));
      out.push(event([choice({ tool_calls: [{ index, function: { arguments: t.arguments.slice(0, half) } }] })]));
      out.push(event([choice({ tool_calls: [{ index, function: { arguments: t.arguments.slice(half) } }] })]));
    } else {
      out.push(event([choice({ role: 'assistant', content: '', tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }] })]));
    }
  });
  if (openai) {
    out.push(event([choice({}, completion.finishReason)]));
    if (includeUsage) out.push(event([], usageOf(completion)));
  } else {
    out.push(event([choice({}, completion.finishReason)], includeUsage ? usageOf(completion) : undefined));
  }
  out.push('data: [DONE]\n\n');
  return out;
}

/** The whole body of a streaming answer (every event at once). */
export function chatCompletionChunks(id: string, model: string, completion: Completion, includeUsage: boolean): string {
  return chatCompletionEvents(id, model, completion, includeUsage, 1).join('');
}
