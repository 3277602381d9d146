import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { HEADERS, OPENAI_REPLY_FORMAT, type ChatCompletionPayload, type JobHandler } from 'warren';

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
  /** The tool calls of the first choice, when the model asked for some. */
  toolCalls?: unknown[];
}

/** The request the provider gets: the payload without warren's own fields (`metadata` only with `store: true`). */
function providerParams(payload: ChatCompletionPayload): ChatCompletionCreateParamsNonStreaming {
  const { priority: _priority, metadata, stream: _stream, stream_options: _streamOptions, ...rest } = payload;
  const params: Record<string, unknown> = { ...rest };
  if (payload.store === true && metadata !== undefined) params.metadata = metadata;
  return params as unknown as ChatCompletionCreateParamsNonStreaming;
}

/**
 * The LLM handler: one chat completion through the consumer's provider.
 * `ctx.llm` does the rest: rpm/tpm pacing, the job's abort signal, latency,
 * token and cost accounting, 429 pauses. With `stream: true` the provider
 * streams and each chunk is relayed to the client waiting on the front door
 * (`ctx.relay`). Jobs of the front door (`x-warren-reply-format`) return the
 * provider's completion as it came; other jobs a short summary. Failures are
 * not caught here; warren classifies them with the disposition table.
 */
const chatCompletion: JobHandler<ChatCompletionPayload, ChatCompletionResult | ChatCompletion> = async (job, ctx) => {
  const params = providerParams(job.payload);
  const res =
    job.payload.stream === true && ctx.hasReplyTarget
      ? await ctx.llm.streamChatCompletion(params, (chunk) => ctx.relay(chunk))
      : await ctx.llm.chatCompletion(params);
  if (job.headers[HEADERS.replyFormat] === OPENAI_REPLY_FORMAT) return res;
  const choice = res.choices[0];
  const summary: ChatCompletionResult = {
    id: res.id,
    model: res.model,
    content: choice?.message.content ?? null,
    finishReason: choice?.finish_reason ?? null,
    usage: res.usage ? { promptTokens: res.usage.prompt_tokens, completionTokens: res.usage.completion_tokens, totalTokens: res.usage.total_tokens } : undefined,
    metadata: job.payload.metadata,
  };
  if (choice?.message.tool_calls !== undefined && choice.message.tool_calls.length > 0) summary.toolCalls = choice.message.tool_calls;
  return summary;
};

export default chatCompletion;
