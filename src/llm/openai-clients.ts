import OpenAI from 'openai';
import type { ProviderConfig } from '../config/topology-schema.ts';

/** Options of {@link createOpenAiClient}. */
export interface OpenAiClientOptions {
  /**
   * The fetch the SDK uses (its documented `fetch` option). @default the global fetch, whose
   * connections Node keeps alive and pools per origin (undici's global dispatcher)
   */
  fetch?: typeof fetch;
}

/**
 * The openai client for one provider. `maxRetries: 0` because the queue owns
 * retries (the SDK's own 2 retries would multiply every attempt), and the
 * provider's timeout bounds each call. Any OpenAI-compatible server works:
 * OpenAI, Azure's v1 endpoint, vLLM, Ollama (`/v1`), LiteLLM.
 */
export function createOpenAiClient(provider: ProviderConfig, options: OpenAiClientOptions = {}): OpenAI {
  return new OpenAI({
    baseURL: provider.baseURL,
    // The SDK refuses an empty key; local servers (vLLM, Ollama) ignore it.
    apiKey: provider.apiKey === '' ? 'no-key' : provider.apiKey,
    maxRetries: 0,
    timeout: provider.timeout,
    fetch: options.fetch,
  });
}

/** One client per provider name, built lazily and shared by every consumer of that provider. */
export interface OpenAiClients {
  get(provider: string): OpenAI;
}

/** Creates the per-provider client cache for a topology's `providers`. */
export function createOpenAiClients(providers: Readonly<Record<string, ProviderConfig>>, options: OpenAiClientOptions = {}): OpenAiClients {
  const clients = new Map<string, OpenAI>();
  return {
    get(name) {
      let client = clients.get(name);
      if (client) return client;
      const provider = providers[name];
      if (!provider) throw new Error(`unknown provider '${name}'`);
      client = createOpenAiClient(provider, options);
      clients.set(name, client);
      return client;
    },
  };
}
