import type { FaultVariant } from './markers.ts';

/** The JSON body OpenAI sends with an error status, which the SDK exposes as `err.error`, `err.code`, `err.type`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Facts of the request that make an error message concrete. */
export interface ErrorContext {
  model: string;
  promptTokens: number;
  contextWindow: number;
}

/**
 * The body OpenAI answers for `status` (and `variant`), close enough to the real service that
 * classifiers written against OpenAI behave the same against the fake.
 */
export function openAiErrorBody(status: number, variant: FaultVariant | undefined, ctx: ErrorContext): OpenAiErrorBody {
  const body = (message: string, type: string, code: string | null, param: string | null = null): OpenAiErrorBody => ({
    error: { message, type, param, code },
  });
  switch (status) {
    case 400:
      if (variant === 'context-length') {
        return body(
          `This model's maximum context length is ${ctx.contextWindow} tokens. However, your messages resulted in ${Math.max(ctx.promptTokens, ctx.contextWindow + 1)} tokens. Please reduce the length of the messages.`,
          'invalid_request_error',
          'context_length_exceeded',
          'messages',
        );
      }
      if (variant === 'content-filter') {
        return body(
          "The response was filtered due to the prompt triggering the content management policy.",
          'invalid_request_error',
          'content_filter',
          'prompt',
        );
      }
      return body('Invalid request (fake LLM).', 'invalid_request_error', null);
    case 401:
      return body('Incorrect API key provided. (fake LLM)', 'invalid_request_error', 'invalid_api_key');
    case 403:
      return body('You are not allowed to use this model. (fake LLM)', 'invalid_request_error', 'model_not_permitted');
    case 404:
      return body(
        `The model \`${ctx.model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        'model_not_found',
        'model',
      );
    case 422:
      return body('The request could not be processed. (fake LLM)', 'invalid_request_error', 'unprocessable_entity');
    case 429:
      if (variant === 'quota') {
        return body('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota');
      }
      return body(`Rate limit reached for ${ctx.model} on requests per min (RPM). (fake LLM)`, 'requests', 'rate_limit_exceeded');
    case 500:
      return body('The server had an error while processing your request. Sorry about that! (fake LLM)', 'server_error', null);
    case 502:
      return body('Bad gateway. (fake LLM)', 'server_error', null);
    case 503:
      return body('The engine is currently overloaded, please try again later. (fake LLM)', 'server_error', 'overloaded');
    default:
      return body(`Fake LLM error ${status}.`, status >= 500 ? 'server_error' : 'invalid_request_error', null);
  }
}
