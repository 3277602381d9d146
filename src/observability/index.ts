export * from './logger.ts';
export * from './fast-metrics.ts';
export * from './tracing.ts';
