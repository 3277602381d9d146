/** The LLM layout the browser tests share, small (the shipped one): quorum work queue dead-lettering to llm.dlx -> llm.dead, one chat route and consumer. */
export function llmTopology(llmUrl: string): Record<string, unknown> {
  return {
    exchanges: { 'llm.jobs': { type: 'topic' }, 'llm.dlx': { type: 'direct' }, 'llm.results': { type: 'fanout' } },
    queues: {
      'llm.standard': {
        type: 'quorum',
        deadLetter: { exchange: 'llm.dlx', routingKey: 'llm.dead' },
        deadLetterStrategy: 'at-least-once',
        overflow: 'reject-publish',
        deliveryLimit: 5,
        retry: 'standard',
      },
      'llm.dead': { type: 'quorum' },
      'llm.results.q': { type: 'classic' },
    },
    bindings: [
      { source: 'llm.jobs', queue: 'llm.standard', routingKey: 'llm.standard.#' },
      { source: 'llm.dlx', queue: 'llm.dead', routingKey: 'llm.dead' },
      { source: 'llm.results', queue: 'llm.results.q' },
    ],
    retryPolicies: { standard: { attempts: 3, backoff: ['200ms'] } },
    routes: { chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } } },
    providers: { fake: { baseURL: llmUrl, timeout: '5s' } },
    // As the shipped topology.yaml: job pages show payloads (off by default).
    jobEvents: { payloadBytes: 64 * 1024 },
    consumers: {
      'llm-standard': { queue: 'llm.standard', handler: 'chat-completion', route: 'chat', provider: 'fake', prefetch: 10, timeout: '10s', results: { exchange: 'llm.results' } },
    },
  };
}
