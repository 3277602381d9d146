export * from './find-consumer-module.ts';
export * from './load-payload-schemas.ts';
export * from './import-consumer-module.ts';
