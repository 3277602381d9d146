import type { ChatRequest } from './chat-completion-body.ts';

/** A tool call the fake "model" makes. */
export interface FakeToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
}

/** What the fake model answers: text, or tool calls. */
export interface AnswerPlan {
  content: string | null;
  toolCalls?: FakeToolCall[];
}

interface ToolDef {
  type?: unknown;
  function?: { name?: unknown; parameters?: unknown };
}

let toolCallCounter = 0;

/** A value that fits a JSON Schema, strings filled with `text` (enough for tests: objects, arrays, scalars, enums). */
export function sampleFor(schema: unknown, text: string, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return text;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('const' in s) return s.const;
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants) && variants.length > 0) return sampleFor(variants[0], text, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(props)) out[k] = sampleFor(v, text, depth + 1);
      return out;
    }
    case 'array':
      return [sampleFor(s.items, text, depth + 1)];
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return s.properties !== undefined ? sampleFor({ ...s, type: 'object' }, text, depth) : text;
  }
}

/**
 * Decides the answer the way a real model would shape it:
 * - tools offered, `tool_choice` not `none`, and the last message is not a tool
 *   result: call the chosen tool (or the first), arguments fitting its schema;
 * - the last message is a tool result: answer with text that quotes it;
 * - `response_format` json_schema: a JSON document fitting the schema,
 *   json_object: `{"reply": …}`; else the reply text.
 */
export function planAnswer(request: ChatRequest, reply: string): AnswerPlan {
  const r = request as ChatRequest & { tools?: ToolDef[]; tool_choice?: unknown; response_format?: { type?: string; json_schema?: { schema?: unknown } } };
  const last = request.messages[request.messages.length - 1];
  const tools = (r.tools ?? []).filter((t) => t.type === 'function' && typeof t.function?.name === 'string');
  if (last?.role === 'tool') {
    const result = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
    return { content: answerText(r, `fake-llm answer from tool result: ${result.slice(0, 200)}`) };
  }
  if (tools.length > 0 && r.tool_choice !== 'none') {
    const chosen = typeof r.tool_choice === 'object' && r.tool_choice !== null ? (r.tool_choice as { function?: { name?: string } }).function?.name : undefined;
    const tool = tools.find((t) => t.function?.name === chosen) ?? tools[0];
    const name = String(tool?.function?.name);
    toolCallCounter = (toolCallCounter + 1) % Number.MAX_SAFE_INTEGER;
    const args = sampleFor(tool?.function?.parameters ?? { type: 'object', properties: {} }, reply);
    return { content: null, toolCalls: [{ id: `call_fake${toolCallCounter.toString(36)}`, name, arguments: JSON.stringify(args) }] };
  }
  return { content: answerText(r, reply) };
}

function answerText(r: { response_format?: { type?: string; json_schema?: { schema?: unknown } } }, text: string): string {
  const format = r.response_format;
  if (format?.type === 'json_schema') return JSON.stringify(sampleFor(format.json_schema?.schema ?? { type: 'object' }, text));
  if (format?.type === 'json_object') return JSON.stringify({ reply: text });
  return text;
}
