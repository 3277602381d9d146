#!/usr/bin/env node
// Standalone fake OpenAI-compatible server for tests and demos (`bin/fake-llm.js --help`).
// tsx compiles the TypeScript source on the fly, as for bin/warren.js.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../fake-llm/run-fake-llm.ts');
await main(process.argv.slice(2), process.env);
