export * from './find-consumer-module.ts';
export * from './load-payload-schemas.ts';
