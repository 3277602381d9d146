import { z } from 'zod';
import { jsonSchemaProblems } from './json-schema-check.ts';

/** A tool call of an assistant message (what the model asked for; the client sends it back on the next turn). */
const toolCallSchema = z.looseObject({
  id: z.string().max(200),
  type: z.string().max(50),
  function: z.looseObject({ name: z.string().max(200), arguments: z.string() }).optional(),
});

/**
 * Chat message as accepted by OpenAI-compatible chat completion endpoints.
 * Extra keys are kept (loose): providers put their own fields on messages
 * (vLLM's `reasoning_content`, audio ids) and the message is sent on as given.
 */
export const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool', 'developer', 'function']),
  // null or absent: an assistant message that only calls tools.
  content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(toolCallSchema).max(128).optional(),
  tool_call_id: z.string().max(200).optional(),
  refusal: z.string().nullish(),
}).superRefine(
  (m, ctx) => {
    // OpenAI's rule: only an assistant message that calls tools (or a function) may go without content.
    if (typeof m !== 'object' || m === null) return;
    const v = m as { role?: unknown; content?: unknown; tool_calls?: unknown; function_call?: unknown };
    if (v.content != null) return;
    if (v.role === 'assistant' && (v.tool_calls !== undefined || v.function_call != null)) return;
    ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is required (only an assistant message with tool_calls may leave it out)' });
  },
  // Also when another field of the message failed, so every problem is listed at once.
  { when: () => true },
);

/** A function tool: its `parameters` must be a JSON Schema (checked, so a provider doesn't refuse it after a wait in the queue). */
const toolSchema = z.looseObject({
  type: z.string().min(1).max(50),
  function: z
    .looseObject({
      name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or - (at most 64)'),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    })
    .optional(),
});

const responseFormatSchema = z.union([
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({ name: z.string().min(1).max(64), description: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() }),
  }),
  z.looseObject({ type: z.enum(['text', 'json_object']) }),
]);

/** Adds an issue per JSON Schema problem under `path`. */
function checkJsonSchema(schema: unknown, path: (string | number)[], ctx: z.RefinementCtx): void {
  for (const p of jsonSchemaProblems(schema)) ctx.addIssue({ code: 'custom', path: [...path, ...p.path], message: `not a valid JSON Schema: ${p.message}` });
}

/**
 * Payload of an LLM chat-completion job: the OpenAI chat completion request
 * (every documented field, passed to the provider as given) plus warren's
 * `priority` and `metadata`. Unknown top-level fields are refused with their
 * name (strict): a typo must not be dropped silently. `metadata` stays with
 * the job (echoed in status and results) and goes to the provider only with
 * `store: true`, the one case OpenAI reads it.
 */
export const chatCompletionPayloadSchema = z
  .object({
    model: z.string().min(1).max(200),
    messages: z.array(chatMessageSchema).min(1).max(1000),
    temperature: z.number().min(0).max(2).nullish(),
    max_tokens: z.number().int().positive().max(1_000_000).nullish(),
    max_completion_tokens: z.number().int().positive().max(1_000_000).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
    n: z.number().int().min(1).max(128).nullish(),
    seed: z.number().int().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    user: z.string().max(500).optional(),
    tools: z.array(toolSchema).max(128).optional(),
    tool_choice: z.union([z.string().max(50), z.record(z.string(), z.unknown())]).optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: responseFormatSchema.optional(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    logit_bias: z.record(z.string(), z.number()).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.record(z.string(), z.unknown()).nullish(),
    reasoning_effort: z.string().max(50).nullish(),
    verbosity: z.string().max(50).nullish(),
    service_tier: z.string().max(50).nullish(),
    store: z.boolean().nullish(),
    modalities: z.array(z.string().max(50)).max(10).nullish(),
    audio: z.record(z.string(), z.unknown()).nullish(),
    prediction: z.record(z.string(), z.unknown()).nullish(),
    prompt_cache_key: z.string().max(1000).optional(),
    prompt_cache_retention: z.string().max(50).nullish(),
    prompt_cache_options: z.record(z.string(), z.unknown()).nullish(),
    safety_identifier: z.string().max(500).optional(),
    moderation: z.unknown().optional(),
    web_search_options: z.record(z.string(), z.unknown()).optional(),
    functions: z.array(z.record(z.string(), z.unknown())).max(128).optional(),
    function_call: z.union([z.string().max(50), z.record(z.string(), z.unknown())]).optional(),
    /** Queue tier; fills `{priority}` in the route's routing key. */
    priority: z.enum(['realtime', 'standard', 'batch']).optional(),
    /** Free-form caller data echoed in status and results. */
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    p.tools?.forEach((t, i) => {
      if (t.type === 'function' && t.function === undefined) ctx.addIssue({ code: 'custom', path: ['tools', i, 'function'], message: 'a function tool needs `function`' });
      if (t.function?.parameters !== undefined) checkJsonSchema(t.function.parameters, ['tools', i, 'function', 'parameters'], ctx);
    });
    const rf = p.response_format;
    if (rf?.type === 'json_schema' && 'json_schema' in rf) checkJsonSchema((rf.json_schema as { schema?: unknown }).schema ?? {}, ['response_format', 'json_schema', 'schema'], ctx);
  });
export type ChatCompletionPayload = z.infer<typeof chatCompletionPayloadSchema>;

/** Payload of a plain task: a type and any JSON object of input. */
export const taskPayloadSchema = z
  .object({
    type: z.string().min(1).max(200),
    input: z.record(z.string(), z.unknown()).default({}),
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();
export type TaskPayload = z.infer<typeof taskPayloadSchema>;

/** Built-in payload schemas that routes name with `schema:`. */
export const BUILTIN_PAYLOAD_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  'chat-completion': chatCompletionPayloadSchema,
  task: taskPayloadSchema,
};
