import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ChatCompletionPayload, JobHandler } from 'warren';

/** What a chat-completion job returns (published to the results exchange and in the `succeeded` event). */
export interface ChatCompletionResult {
  /** Provider's completion id. */
  id: string;
  /** Model that answered. */
  model: string;
  content: string | null;
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number } | undefined;
  metadata: ChatCompletionPayload['metadata'];
}

/**
 * The LLM handler: one chat completion through the consumer's provider.
 * `ctx.llm.chatCompletion` does the rest: rpm/tpm pacing, the job's abort
 * signal, latency and token metrics, 429 pauses. Failures are not caught
 * here; warren classifies them (429 and 5xx retry, 400 / 401 / 404 / content
 * filter dead-letter) with the disposition table.
 */
const chatCompletion: JobHandler<ChatCompletionPayload, ChatCompletionResult> = async (job, ctx) => {
  const { model, messages, temperature, max_tokens, top_p, stop, metadata } = job.payload;
  const res = await ctx.llm.chatCompletion({
    model,
    messages: messages as ChatCompletionMessageParam[],
    ...(temperature === undefined ? {} : { temperature }),
    ...(max_tokens === undefined ? {} : { max_tokens }),
    ...(top_p === undefined ? {} : { top_p }),
    ...(stop === undefined ? {} : { stop }),
  });
  const choice = res.choices[0];
  return {
    id: res.id,
    model: res.model,
    content: choice?.message.content ?? null,
    finishReason: choice?.finish_reason ?? null,
    usage: res.usage ? { promptTokens: res.usage.prompt_tokens, completionTokens: res.usage.completion_tokens, totalTokens: res.usage.total_tokens } : undefined,
    metadata,
  };
};

export default chatCompletion;
