export * from './warren-error.ts';
export * from './topology-error.ts';
export * from './broker-error.ts';
export * from './publish-errors.ts';
export * from './job-errors.ts';
export * from './job-submit-errors.ts';
export * from './dlq-error.ts';
export * from './config-error.ts';
