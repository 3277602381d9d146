export * from './duration.ts';
export * from './env-interpolation.ts';
export * from './topology-schema.ts';
export * from './validate-topology.ts';
export * from './load-topology.ts';
