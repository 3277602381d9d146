import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { Logger } from '../observability/logger.ts';

/**
 * The contract between warren and a handler in `consumers/`: a module whose
 * default export is `(job, ctx) => result`. Return the result to succeed;
 * throw to fail (PermanentJobError: dead-letter now; TransientJobError: retry;
 * anything else is classified by the disposition table).
 */
export type JobHandler<P = unknown, R = unknown> = (job: Job<P>, ctx: JobContext) => Promise<R> | R;

/** One job as a handler sees it. */
export interface Job<P = unknown> {
  /** Job id (the AMQP messageId the API assigned). */
  id: string;
  /** Payload, already parsed and validated with the route's schema. */
  payload: P;
  /** Route the job was published through, when known. */
  route: string | undefined;
  /** Queue it was consumed from. */
  queue: string;
  /** 1-based attempt (warren's `x-warren-attempt` header; crashes don't count, retries do). */
  attempt: number;
  /** True when the broker delivers it again after a crash, a lost channel or a shutdown. */
  redelivered: boolean;
  /** All AMQP headers, read-only. */
  headers: Readonly<Record<string, unknown>>;
}

/** Token usage of the LLM calls a job made. */
export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens served from the provider's cache, when it reports them. */
  cachedTokens?: number;
  /** Cost by the topology's price table (`providers.<p>.models.<m>.price`); absent when a model has no price. */
  cost?: number;
  /** Model of the last call, as the provider named it. */
  model?: string;
}

/** The LLM side of a job's context: the consumer's provider, paced and measured by warren. */
export interface LlmContext {
  /** Provider name from topology.yaml, or undefined when the consumer has none. */
  readonly provider: string | undefined;
  /** The consumer's forced model (`consumers.<name>.model`), if any. */
  readonly model: string | undefined;
  /**
   * The raw openai client (maxRetries 0, provider timeout). Calls made on it
   * directly skip warren's rate limiter and metrics; pass `{ signal: ctx.signal }`.
   * Throws PermanentJobError when the consumer has no provider.
   */
  readonly client: OpenAI;
  /**
   * A non-streaming chat completion through warren: waits for the rpm/tpm
   * budget, aborts with the job, records latency and tokens, pauses the
   * consumer on 429, and throws ContentFilterError when the
   * provider filtered the answer. The consumer's forced model wins over `params.model`.
   */
  chatCompletion(params: ChatCompletionCreateParamsNonStreaming): Promise<ChatCompletion>;
  /**
   * The same as a stream: the provider streams (`stream: true`, usage in the
   * last chunk), `onChunk` gets each chunk as the provider sent it, and the
   * promise resolves with the completion the chunks amount to.
   */
  streamChatCompletion(params: ChatCompletionCreateParamsNonStreaming, onChunk: (chunk: ChatCompletionChunk) => void): Promise<ChatCompletion>;
  /** Usage summed over this job's calls so far. */
  usage(): LlmUsage | undefined;
}

/** What a handler gets besides the job. */
export interface JobContext {
  jobId: string;
  attempt: number;
  redelivered: boolean;
  /** Consumer name from topology.yaml. */
  consumer: string;
  /** Logger bound to the job (jobId, consumer, attempt). */
  logger: Logger;
  /** Aborted on the job's timeout, on shutdown past the deadline, and when the delivery's channel is lost. */
  signal: AbortSignal;
  /** Publishes a follow-up job to a route (validated, confirmed); resolves with its job id. */
  publish(route: string, payload: unknown): Promise<string>;
  llm: LlmContext;
  /**
   * Sends a progress message (a stream chunk) to the client waiting on this
   * job through the OpenAI front door: unconfirmed, non-persistent, never
   * blocking, dropped when nobody waits. A no-op for other jobs.
   */
  relay(chunk: unknown): void;
  /** True when a client waits on this job's live replies (a front-door request). */
  readonly hasReplyTarget: boolean;
}

/** A handler module as loaded from `consumers/<name>.ts`. */
export interface HandlerModule {
  default?: JobHandler;
  handler?: JobHandler;
}
