import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';

interface ToolCallParts {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface ChoiceParts {
  index: number;
  role: string | undefined;
  content: string | null;
  refusal: string | null;
  toolCalls: Map<number, ToolCallParts>;
  finishReason: string | null;
  logprobs: { content: unknown[] | null; refusal: unknown[] | null } | null;
}

/**
 * Builds the `chat.completion` a stream of chunks amounts to: content and
 * refusal concatenated, tool-call arguments joined by tool-call index, the
 * last finish reason, logprobs appended, usage from the chunk that carries
 * it. Works on the chunks as the provider sent them (OpenAI, vLLM and Ollama
 * differ in which fields they fill), so the stored result is what the client
 * saw, joined.
 */
export function createChunkAssembler(): { add(chunk: ChatCompletionChunk): void; result(): ChatCompletion } {
  let id = '';
  let model = '';
  let created = 0;
  let fingerprint: string | null | undefined;
  let serviceTier: ChatCompletion['service_tier'] | undefined;
  let usage: ChatCompletion['usage'] | undefined;
  const choices = new Map<number, ChoiceParts>();

  return {
    add(chunk) {
      if (chunk.id) id = chunk.id;
      if (chunk.model) model = chunk.model;
      if (chunk.created) created = chunk.created;
      if (chunk.system_fingerprint !== undefined) fingerprint = chunk.system_fingerprint;
      if (chunk.service_tier != null) serviceTier = chunk.service_tier;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices ?? []) {
        let parts = choices.get(c.index);
        if (parts === undefined) {
          parts = { index: c.index, role: undefined, content: null, refusal: null, toolCalls: new Map(), finishReason: null, logprobs: null };
          choices.set(c.index, parts);
        }
        const d = c.delta ?? {};
        if (d.role) parts.role = d.role;
        if (typeof d.content === 'string') parts.content = (parts.content ?? '') + d.content;
        if (typeof d.refusal === 'string') parts.refusal = (parts.refusal ?? '') + d.refusal;
        for (const t of d.tool_calls ?? []) {
          let call = parts.toolCalls.get(t.index);
          if (call === undefined) {
            call = { id: '', type: 'function', function: { name: '', arguments: '' } };
            parts.toolCalls.set(t.index, call);
          }
          if (t.id) call.id = t.id;
          if (t.function?.name) call.function.name += t.function.name;
          if (t.function?.arguments) call.function.arguments += t.function.arguments;
        }
        if (c.finish_reason) parts.finishReason = c.finish_reason;
        if (c.logprobs) {
          parts.logprobs ??= { content: null, refusal: null };
          if (c.logprobs.content) parts.logprobs.content = [...(parts.logprobs.content ?? []), ...c.logprobs.content];
          if (c.logprobs.refusal) parts.logprobs.refusal = [...(parts.logprobs.refusal ?? []), ...c.logprobs.refusal];
        }
      }
    },
    result() {
      const out = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [...choices.values()]
          .sort((a, b) => a.index - b.index)
          .map((p) => {
            const message: Record<string, unknown> = { role: 'assistant', content: p.content, refusal: p.refusal };
            if (p.toolCalls.size > 0) message.tool_calls = [...p.toolCalls.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
            return { index: p.index, message, logprobs: p.logprobs, finish_reason: p.finishReason };
          }),
      } as unknown as ChatCompletion;
      if (typeof fingerprint === 'string') out.system_fingerprint = fingerprint;
      if (serviceTier !== undefined) out.service_tier = serviceTier;
      if (usage !== undefined) out.usage = usage;
      return out;
    },
  };
}
