export * from './cli-context.ts';
export * from './render-error.ts';
export * from './program.ts';
export * from './topology-command.ts';
export * from './init-command.ts';
