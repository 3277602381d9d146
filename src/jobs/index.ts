export * from './headers.ts';
export * from './job-event.ts';
export * from './payload-schemas.ts';
export * from './job-event-publisher.ts';
export * from './job-event-signature.ts';
export * from './job-event-key.ts';
export * from './job-id.ts';
