export * from './console-api.ts';
export * from './console-broker.ts';
export * from './console-html.ts';
export * from './console-session.ts';
export * from './register-console.ts';
export * from './render-value.ts';
