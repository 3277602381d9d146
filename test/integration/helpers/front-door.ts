import OpenAI from 'openai';
import { createFakeLlmServer, type FakeLlmServer } from '../../../fake-llm/index.ts';
import { startApi, type RunningApi } from '../../../src/api/start-api.ts';
import { createSilentLogger } from '../../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../../src/worker/start-worker.ts';
import { createWorkerHarness, type WorkerHarness } from './worker-harness.ts';

/** Keys of the front-door tests: `app` (all routes), `limited` (2 requests a minute), `poor` (a 50-token day). */
export const FRONT_DOOR_KEYS = 'fd-app-key-0123456789:*:metrics:app;fd-limited-0123456789:*::limited;fd-poor-key-0123456789:*::poor';
export const APP_KEY = 'fd-app-key-0123456789';

/**
 * The front door's test topology: route `chat` (streaming consumer, OpenAI-shaped fake LLM, priced model),
 * `plain` (a consumer that does not stream), `local` (the ollama/vLLM-shaped fake LLM), `full` (a queue that
 * refuses every publish). Retries after 200 ms, twice.
 */
export function frontDoorTopology(openaiUrl: string, ollamaUrl: string, waitTimeout = '5s'): () => Record<string, unknown> {
  return () => ({
    exchanges: { 'llm.jobs': { type: 'topic' }, 'llm.dlx': { type: 'direct' } },
    queues: {
      'llm.standard': { type: 'quorum', deadLetter: { exchange: 'llm.dlx', routingKey: 'dead' }, deadLetterStrategy: 'at-least-once', overflow: 'reject-publish', deliveryLimit: 10, retry: 'quick' },
      'llm.plain': { type: 'classic', deadLetter: { exchange: 'llm.dlx', routingKey: 'dead' } },
      'llm.local': { type: 'classic', deadLetter: { exchange: 'llm.dlx', routingKey: 'dead' } },
      'llm.full': { type: 'classic', maxLength: 0, overflow: 'reject-publish', deadLetter: { exchange: 'llm.dlx', routingKey: 'dead' } },
      'llm.dead': { type: 'quorum' },
    },
    bindings: [
      { source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.*.chat' },
      { source: 'llm.jobs', queue: 'llm.plain', routingKey: 'llm.plain' },
      { source: 'llm.jobs', queue: 'llm.local', routingKey: 'llm.local' },
      { source: 'llm.jobs', queue: 'llm.full', routingKey: 'llm.full' },
      { source: 'llm.dlx', queue: 'llm.dead', routingKey: 'dead' },
    ],
    retryPolicies: { quick: { attempts: 3, backoff: ['200ms'], jitter: 0 } },
    routes: {
      chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } },
      plain: { exchange: 'llm.jobs', routingKey: 'llm.plain', schema: 'chat-completion' },
      local: { exchange: 'llm.jobs', routingKey: 'llm.local', schema: 'chat-completion' },
      full: { exchange: 'llm.jobs', routingKey: 'llm.full', schema: 'chat-completion' },
    },
    providers: {
      fake: { baseURL: openaiUrl, apiKey: 'fake', timeout: '10s', models: { 'gpt-4o-mini': { price: { input: 0.15, output: 0.6 } } } },
      local: { baseURL: ollamaUrl, apiKey: 'fake', timeout: '10s' },
    },
    consumers: {
      chat: { queue: 'llm.standard', handler: 'chat-completion', route: 'chat', provider: 'fake', prefetch: 50, timeout: '20s', streaming: true },
      plain: { queue: 'llm.plain', handler: 'chat-completion', route: 'plain', provider: 'fake', prefetch: 10, timeout: '20s' },
      local: { queue: 'llm.local', handler: 'chat-completion', route: 'local', provider: 'local', prefetch: 10, timeout: '20s', streaming: true },
      full: { queue: 'llm.full', handler: 'chat-completion', route: 'full', provider: 'fake', prefetch: 10, timeout: '20s' },
    },
    openai: {
      route: 'chat',
      waitTimeout,
      maxN: 2,
      models: { 'gpt-4o-mini': {}, 'plain-mini': { route: 'plain', model: 'gpt-4o-mini' }, 'llama3.2': { route: 'local' }, 'full-mini': { route: 'full', model: 'gpt-4o-mini' } },
      keys: { limited: { limits: { requestsPerMinute: 2 } }, poor: { limits: { tokensPerDay: 50 } } },
    },
  });
}

/** A broker vhost with the front-door topology, both fake LLMs, one worker and one API. */
export interface FrontDoorRig {
  h: WorkerHarness;
  llm: FakeLlmServer;
  ollama: FakeLlmServer;
  worker: Worker;
  api: RunningApi;
  /** An SDK client on the API with `key` (default: APP_KEY), maxRetries 0. */
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

/** Starts a {@link FrontDoorRig}. */
export async function startFrontDoorRig(prefix: string, options: { waitTimeout?: string } = {}): Promise<FrontDoorRig> {
  const llm = await createFakeLlmServer({ streamChunks: 4 });
  const ollama = await createFakeLlmServer({ streamChunks: 3, shape: 'ollama' });
  const h = await createWorkerHarness(prefix, frontDoorTopology(llm.url, ollama.url, options.waitTimeout));
  const worker = await startWorker({ topology: h.loaded, logger: createSilentLogger(), runningEventAfterMs: 0 });
  const api = await startApi({ topology: h.topology, port: 0, apiKeys: FRONT_DOOR_KEYS, logger: createSilentLogger(), processMetrics: false });
  await api.index.waitUntilCaughtUp(30_000);
  return {
    h,
    llm,
    ollama,
    worker,
    api,
    client: (key = APP_KEY) => new OpenAI({ baseURL: `${api.url}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000 }),
    async close() {
      await api.close();
      await worker.close(5_000);
      await h.close();
      await llm.close();
      await ollama.close();
    },
  };
}
