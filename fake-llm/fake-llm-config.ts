import { z } from 'zod';

const statusFailure = z
  .object({
    /** Share of requests (0..1) answered with this failure. */
    rate: z.number().min(0).max(1),
    /** HTTP status answered. */
    status: z.number().int().min(400).max(599),
    /** Error body variant: `context-length` / `content-filter` (400) or `quota` (429). */
    variant: z.enum(['context-length', 'content-filter', 'quota']).optional(),
    /** `retry-after` sent with the failure (429/503). */
    retryAfterMs: z.number().int().min(0).optional(),
  })
  .strict();

const modeFailure = z
  .object({
    rate: z.number().min(0).max(1),
    /** `hang`: never answer; `content-filter`: 200 with finish_reason `content_filter`. */
    mode: z.enum(['hang', 'content-filter']),
  })
  .strict();

/** The fake server's behaviour; every field can be changed at run time with `setConfig`. */
export const fakeLlmConfigSchema = z
  .object({
    /** Base latency of every completion in ms. @default 0 */
    latencyMs: z.number().int().min(0).default(0),
    /** Uniform random extra latency in [0, jitterMs] ms. @default 0 */
    jitterMs: z.number().int().min(0).default(0),
    /** Requests per window the server admits before answering 429 (0 = unlimited). @default 0 */
    rpm: z.number().int().min(0).default(0),
    /** Length of the rate-limit window; 60 s makes `rpm` per minute. @default 60000 */
    rpmWindowMs: z.number().int().min(1).default(60_000),
    /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
    apiKey: z.string().min(1).optional(),
    /** Models listed by GET /v1/models. @default ['gpt-4o-mini', 'gpt-4o', 'warren-fake'] */
    models: z.array(z.string().min(1)).min(1).default(['gpt-4o-mini', 'gpt-4o', 'warren-fake']),
    /** Answer 404 model_not_found for a model not in `models`. @default false (any model answers) */
    strictModels: z.boolean().default(false),
    /** Context window used by the context-length error message. @default 8192 */
    contextWindow: z.number().int().min(1).default(8192),
    /** Pieces a streamed answer's text is cut into (the first chunk carries the role). @default 4 */
    streamChunks: z.number().int().min(1).max(1000).default(4),
    /** Pause between the chunks of a streamed answer in ms. @default 0 */
    streamChunkDelayMs: z.number().int().min(0).default(0),
    /**
     * Wire shape: `openai` (OpenAI's fields, usage in a chunk of its own with no choices, tool-call
     * arguments in pieces) or `ollama` (vLLM / Ollama OpenAI-compatible servers: no system_fingerprint,
     * refusal or logprobs fields, each tool call whole in one delta, usage on the finishing chunk). @default openai
     */
    shape: z.enum(['openai', 'ollama']).default('openai'),
    /** Random failures by rate, drawn in order for every request that has no marker. @default [] */
    failures: z.array(z.union([statusFailure, modeFailure])).default([]),
    /** Answer every request with `status` until `untilMs` (epoch ms; absent = until cleared). */
    outage: z
      .object({
        status: z.number().int().min(400).max(599),
        untilMs: z.number().optional(),
        retryAfterMs: z.number().int().min(0).optional(),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** Fully defaulted configuration of the fake LLM server. */
export type FakeLlmConfig = z.output<typeof fakeLlmConfigSchema>;
/** Configuration as a caller writes it (every field optional). */
export type FakeLlmConfigInput = z.input<typeof fakeLlmConfigSchema>;
/** One configured random failure. */
export type ConfiguredFailure = FakeLlmConfig['failures'][number];

/** Invalid fake LLM configuration (from options, `setConfig` or the command line). */
export class FakeLlmConfigError extends Error {
  override readonly name = 'FakeLlmConfigError';
  readonly code = 'FAKE_LLM_BAD_CONFIG';
}

/** Validates a configuration, filling defaults; throws {@link FakeLlmConfigError} with every problem. */
export function parseFakeLlmConfig(input: unknown): FakeLlmConfig {
  const result = fakeLlmConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new FakeLlmConfigError(`invalid fake LLM config: ${z.prettifyError(result.error)}`);
  return result.data;
}
