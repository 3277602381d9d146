export * from './submitter.ts';
export * from './same-json-value.ts';
