#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx compiles src/ on the fly, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
