import { ROOT_CONTEXT, type Span, type Tracer } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { createChunkAssembler } from '../llm/assemble-chunks.ts';
import { costOf, type PriceLookup } from '../llm/model-cost.ts';
import { PermanentJobError } from '../errors/index.ts';
import { endSpan, SpanKind, startChildSpan } from '../observability/tracing.ts';
import { ContentFilterError } from '../llm/content-filter-error.ts';
import { parseRetryAfter } from '../llm/classify-llm-error.ts';
import { estimateChatTokens } from '../llm/estimate-tokens.ts';
import { budgetKeys, type RateLimiter } from '../llm/rate-limiter.ts';
import type { LlmContext, LlmUsage } from './handler-contract.ts';
import type { WorkerMetrics } from './worker-metrics.ts';
import { abortableSleep } from './abortable-sleep.ts';

/** A budget grant the dispatcher took before starting the job; the job's first matching call uses it. */
export interface BudgetGrant {
  keys: string[];
  tokens: number;
  used: boolean;
}

/** Everything a job's LLM context needs. */
export interface LlmContextDeps {
  provider: string | undefined;
  client: OpenAI | undefined;
  /** The consumer's forced model. */
  model: string | undefined;
  limiter: RateLimiter;
  metrics: WorkerMetrics;
  signal: AbortSignal;
  grant: BudgetGrant | undefined;
  /** Pause after a 429 that names no Retry-After. @default 1000 */
  defaultBlockMs?: number;
  /** Tracing on: each call records a client span under `traceParent` (the job's consume span). */
  tracer?: Tracer | undefined;
  traceParent?: Span | undefined;
  /** Prices per provider and model: each call's cost goes into the job's usage. @default none */
  price?: PriceLookup;
}

/** A job's LLM context plus what the runtime reads back afterwards. */
export interface JobLlmContext extends LlmContext {
  /** Returns the dispatcher's grant if the job never used it. */
  releaseUnusedGrant(): void;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

/** Creates the `ctx.llm` of one job. */
export function createLlmContext(deps: LlmContextDeps): JobLlmContext {
  let usage: LlmUsage | undefined;
  const blockMs = deps.defaultBlockMs ?? 1_000;

  function requireClient(): { client: OpenAI; provider: string } {
    if (!deps.client || deps.provider === undefined) {
      throw new PermanentJobError('this consumer has no LLM provider: set `provider:` on the consumer in topology.yaml');
    }
    return { client: deps.client, provider: deps.provider };
  }

  async function call(params: ChatCompletionCreateParamsNonStreaming, onChunk: ((chunk: ChatCompletionChunk) => void) | undefined): Promise<ChatCompletion> {
    const { client, provider } = requireClient();
    const model = deps.model ?? params.model;
    const keys = budgetKeys(provider, model);
    let reserved: number;
    const g = deps.grant;
    if (g && !g.used && sameKeys(g.keys, keys)) {
      g.used = true;
      reserved = g.tokens;
    } else {
      reserved = estimateChatTokens(params);
      for (;;) {
        const wait = deps.limiter.tryAcquire(keys, reserved);
        if (wait === 0) break;
        await abortableSleep(wait, deps.signal);
      }
    }
    const started = performance.now();
    let status = 0;
    const span =
      deps.tracer === undefined
        ? undefined
        : startChildSpan(deps.tracer, `chat ${model}`, SpanKind.CLIENT, deps.traceParent ?? ROOT_CONTEXT, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model, 'warren.provider': provider, 'warren.llm.stream': onChunk !== undefined });
    let failure: unknown;
    try {
      const res = onChunk === undefined ? await client.chat.completions.create({ ...params, model, stream: false }, { signal: deps.signal }) : await streamed(client, params, model, onChunk);
      status = 200;
      deps.limiter.settle(keys, true);
      const u = res.usage;
      if (u) {
        deps.metrics.llmTokens.inc({ provider, model, kind: 'prompt' }, u.prompt_tokens);
        deps.metrics.llmTokens.inc({ provider, model, kind: 'completion' }, u.completion_tokens);
        deps.limiter.adjustTokens(keys, u.total_tokens - reserved);
        usage = addUsage(usage, u, model, res.model, provider);
      }
      if (res.choices.some((c) => c.finish_reason === 'content_filter')) throw new ContentFilterError();
      return res;
    } catch (err) {
      if (err instanceof APIError && typeof err.status === 'number') {
        status = err.status;
        // A 429 pauses every consumer calling this model (the narrowest key) until the provider's window allows again.
        if (err.status === 429) deps.limiter.block(keys.slice(-1), parseRetryAfter(err.headers) ?? blockMs);
      }
      // Anything but a 429 says the window is open again (a 429 re-armed the block above).
      if (status !== 429) deps.limiter.settle(keys, true);
      else deps.limiter.settle(keys.slice(0, -1), true);
      failure = err;
      throw err;
    } finally {
      deps.metrics.llmLatency.observe({ provider, model, status: String(status) }, (performance.now() - started) / 1000);
      if (span !== undefined) {
        span.setAttribute('http.response.status_code', status);
        if (usage !== undefined) span.setAttributes({ 'gen_ai.usage.input_tokens': usage.promptTokens, 'gen_ai.usage.output_tokens': usage.completionTokens });
        endSpan(span, failure);
      }
    }
  }

  /** Adds one call's usage (and its cost, when the model has a price) to the job's. */
  function addUsage(prev: LlmUsage | undefined, u: NonNullable<ChatCompletion['usage']>, requested: string, answered: string, provider: string): LlmUsage {
    const cached = u.prompt_tokens_details?.cached_tokens ?? undefined;
    const next: LlmUsage = {
      promptTokens: (prev?.promptTokens ?? 0) + u.prompt_tokens,
      completionTokens: (prev?.completionTokens ?? 0) + u.completion_tokens,
      totalTokens: (prev?.totalTokens ?? 0) + u.total_tokens,
      model: answered || requested,
    };
    if (cached !== undefined || prev?.cachedTokens !== undefined) next.cachedTokens = (prev?.cachedTokens ?? 0) + (cached ?? 0);
    // Priced by the name asked for (the table's key); a provider may answer with a dated variant of it.
    const price = deps.price?.(provider, requested) ?? (answered ? deps.price?.(provider, answered) : undefined);
    const cost = price === undefined ? undefined : costOf(price, { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, ...(cached === undefined ? {} : { cachedTokens: cached }) });
    if (cost !== undefined || prev?.cost !== undefined) next.cost = Math.round(((prev?.cost ?? 0) + (cost ?? 0)) * 1e9) / 1e9;
    return next;
  }

  /** A streamed call: every chunk to `onChunk` as it arrives, the joined completion at the end. */
  async function streamed(client: OpenAI, params: ChatCompletionCreateParamsNonStreaming, model: string, onChunk: (chunk: ChatCompletionChunk) => void): Promise<ChatCompletion> {
    const stream = await client.chat.completions.create(
      { ...params, model, stream: true, stream_options: { ...(params as { stream_options?: object }).stream_options, include_usage: true } },
      { signal: deps.signal },
    );
    const assembler = createChunkAssembler();
    for await (const chunk of stream) {
      assembler.add(chunk);
      onChunk(chunk);
    }
    return assembler.result();
  }

  return {
    provider: deps.provider,
    model: deps.model,
    get client() {
      return requireClient().client;
    },
    usage: () => usage,
    releaseUnusedGrant() {
      const g = deps.grant;
      if (g && !g.used) {
        g.used = true;
        deps.limiter.release(g.keys, g.tokens);
      }
    },
    chatCompletion(params: ChatCompletionCreateParamsNonStreaming): Promise<ChatCompletion> {
      return call(params, undefined);
    },
    streamChatCompletion(params: ChatCompletionCreateParamsNonStreaming, onChunk: (chunk: ChatCompletionChunk) => void): Promise<ChatCompletion> {
      return call(params, onChunk);
    },
  };
}
