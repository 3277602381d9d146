import { z } from 'zod';

/** Chat message as accepted by OpenAI-compatible chat completion endpoints. */
export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool', 'developer']),
  content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]),
  name: z.string().optional(),
});

/** Payload of an LLM chat-completion job. */
export const chatCompletionPayloadSchema = z
  .object({
    model: z.string().min(1).max(200),
    messages: z.array(chatMessageSchema).min(1).max(1000),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    top_p: z.number().min(0).max(1).optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
    /** Queue tier; fills `{priority}` in the route's routing key. */
    priority: z.enum(['realtime', 'standard', 'batch']).optional(),
    /** Free-form caller data echoed in status and results. */
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .strict();
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
