import { ROOT_CONTEXT, type Span, type Tracer } from '@opentelemetry/api';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
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
    async chatCompletion(params: ChatCompletionCreateParamsNonStreaming): Promise<ChatCompletion> {
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
      const span = deps.tracer === undefined ? undefined : startChildSpan(deps.tracer, `chat ${model}`, SpanKind.CLIENT, deps.traceParent ?? ROOT_CONTEXT, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model, 'warren.provider': provider });
      let failure: unknown;
      try {
        const res = await client.chat.completions.create({ ...params, model, stream: false }, { signal: deps.signal });
        status = 200;
        deps.limiter.settle(keys, true);
        const u = res.usage;
        if (u) {
          deps.metrics.llmTokens.inc({ provider, model, kind: 'prompt' }, u.prompt_tokens);
          deps.metrics.llmTokens.inc({ provider, model, kind: 'completion' }, u.completion_tokens);
          deps.limiter.adjustTokens(keys, u.total_tokens - reserved);
          usage = {
            promptTokens: (usage?.promptTokens ?? 0) + u.prompt_tokens,
            completionTokens: (usage?.completionTokens ?? 0) + u.completion_tokens,
            totalTokens: (usage?.totalTokens ?? 0) + u.total_tokens,
          };
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
    },
  };
}
