import { randomBytes } from 'node:crypto';
import { z } from 'zod';

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
  finishReason: 'stop' | 'length' | 'content_filter';
  promptTokens: number;
  completionTokens: number;
}

/** Applies `max_tokens` / `max_completion_tokens` the way OpenAI does: cut the text, finish_reason `length`. */
export function limitCompletion(request: ChatRequest, text: string): { content: string; finishReason: 'stop' | 'length' } {
  const cap = request.max_completion_tokens ?? request.max_tokens;
  if (cap != null && estimateTextTokens(text) > cap) return { content: text.slice(0, cap * 4), finishReason: 'length' };
  return { content: text, finishReason: 'stop' };
}

/** The `chat.completion` object of a non-streaming answer. */
export function chatCompletionBody(id: string, model: string, completion: Completion): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_warren_fake',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: completion.content, refusal: null },
        logprobs: null,
        finish_reason: completion.finishReason,
      },
    ],
    usage: {
      prompt_tokens: completion.promptTokens,
      completion_tokens: completion.completionTokens,
      total_tokens: completion.promptTokens + completion.completionTokens,
    },
  };
}

/** The server-sent events of a streaming answer, `[DONE]` included. */
export function chatCompletionChunks(id: string, model: string, completion: Completion, includeUsage: boolean): string {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], usage: unknown = null): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_warren_fake', choices, usage })}\n\n`;
  let out = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
  if (completion.content) out += chunk([{ index: 0, delta: { content: completion.content }, logprobs: null, finish_reason: null }]);
  out += chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: completion.finishReason }]);
  if (includeUsage) {
    out += chunk([], {
      prompt_tokens: completion.promptTokens,
      completion_tokens: completion.completionTokens,
      total_tokens: completion.promptTokens + completion.completionTokens,
    });
  }
  return `${out}data: [DONE]\n\n`;
}
