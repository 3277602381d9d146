import { z } from 'zod';
import { durationSchema } from './duration.ts';

/**
 * The `openai:` section of topology.yaml: the OpenAI-compatible front door
 * (`POST /v1/chat/completions`, `GET /v1/models`). Without it those endpoints
 * are not served. Strict like the rest of the file.
 */

const name = z.string().min(1).max(255);
const priority = z.enum(['realtime', 'standard', 'batch']);

/** Price of a model in the provider's currency per million tokens. */
export const modelPriceSchema = z
  .object({
    /** Prompt tokens, per million. */
    input: z.number().nonnegative(),
    /** Completion tokens, per million. */
    output: z.number().nonnegative(),
    /** Prompt tokens the provider reports as cached (`usage.prompt_tokens_details.cached_tokens`), per million. @default input */
    cachedInput: z.number().nonnegative().optional(),
  })
  .strict();
export type ModelPrice = z.infer<typeof modelPriceSchema>;

/** One model name clients may ask for. */
export const openAiModelSchema = z
  .object({
    /** Route whose queue runs the request (a route with the chat-completion schema). @default openai.route */
    route: name.optional(),
    /** Model name sent to the provider. @default the alias itself */
    model: z.string().min(1).max(200).optional(),
    /** Priority when neither the `x-warren-priority` header nor the key's default gives one. @default the route's default */
    priority: priority.optional(),
  })
  .strict();

/** Per-key limits of the front door; over one, 429 with Retry-After before anything is published. */
export const keyBudgetSchema = z
  .object({
    /** Requests accepted per sliding minute. */
    requestsPerMinute: z.number().int().positive().optional(),
    /** Tokens (prompt + completion) per UTC day; running jobs count with an estimate until they report usage. */
    tokensPerDay: z.number().int().positive().optional(),
    /** Cost per UTC calendar month, in the price table's currency. */
    costPerMonth: z.number().positive().optional(),
  })
  .strict();
export type KeyBudget = z.infer<typeof keyBudgetSchema>;

/** Settings per API key (by the key's name, as in WARREN_API_KEYS). */
export const openAiKeySchema = z
  .object({
    /** Default priority of this key's requests (the `x-warren-priority` header wins). */
    priority: priority.optional(),
    limits: keyBudgetSchema.optional(),
  })
  .strict();

export const openAiSchema = z
  .object({
    /** Route of a model listed without `route`. @default chat */
    route: name.default('chat'),
    /** Model names clients may use (the alias map); any other model is a 400 `model_not_found`. */
    models: z.record(z.string().min(1).max(200), openAiModelSchema).default({}),
    /** How long a request waits for its job before a 504 naming the job id (the job goes on). @default 2m */
    waitTimeout: durationSchema.default(120_000),
    /** Largest `n` accepted. @default 8 */
    maxN: z.number().int().min(1).max(128).default(8),
    /** Per API key name: default priority and limits. */
    keys: z.record(name, openAiKeySchema).default({}),
    /** Limits of keys not listed in `keys`. */
    defaultLimits: keyBudgetSchema.optional(),
  })
  .strict();
export type OpenAiConfig = z.infer<typeof openAiSchema>;
