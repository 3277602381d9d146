export * from './duration.ts';
export * from './env-interpolation.ts';
export * from './topology-schema.ts';
export * from './validate-topology.ts';
export * from './load-topology.ts';
export * from './env-settings.ts';
export * from './load-config.ts';
export * from './config-table.ts';
