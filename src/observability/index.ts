export * from './logger.ts';
export * from './fast-metrics.ts';
