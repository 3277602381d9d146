export * from './chat-request.ts';
export * from './cost-metrics.ts';
export * from './job-feed.ts';
export * from './openai-error.ts';
export * from './reply-listener.ts';
export * from './stream-relay.ts';
export * from './usage-ledger.ts';
