export * from './loggable-url.ts';
export * from './management-client.ts';
export * from './broker-connection.ts';
export * from './confirm-publisher.ts';
