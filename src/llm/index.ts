export * from './openai-clients.ts';
export * from './classify-llm-error.ts';
export * from './rate-limiter.ts';
export * from './estimate-tokens.ts';
export * from './content-filter-error.ts';
export * from './model-cost.ts';
export * from './assemble-chunks.ts';
