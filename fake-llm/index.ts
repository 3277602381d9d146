export * from './fake-llm-server.ts';
export * from './fake-llm-config.ts';
export * from './fake-llm-stats.ts';
export * from './markers.ts';
export * from './sliding-window-limiter.ts';
export * from './openai-error-body.ts';
