import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { createChunkAssembler } from './assemble-chunks.ts';

const base = { id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };

describe('chunk assembler', () => {
  it('joins content, tool-call arguments by index, the finish reason and usage', () => {
    const a = createChunkAssembler();
    const chunks: ChatCompletionChunk[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    ];
    for (const c of chunks) a.add(c);
    const r = a.result();
    expect(r.choices[0]?.message).toEqual({ role: 'assistant', content: '', refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] });
    expect(r.choices[0]?.finish_reason).toBe('tool_calls');
    expect(r.usage?.total_tokens).toBe(7);
    expect(r.object).toBe('chat.completion');
  });
});
