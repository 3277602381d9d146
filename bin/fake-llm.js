#!/usr/bin/env node
// Standalone fake OpenAI-compatible server for tests and demos (`bin/fake-llm.js --help`).
// Runs the compiled JavaScript in dist/, as bin/warren.js does (`npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/fake-llm/run-fake-llm.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('fake-llm: dist/ is missing; run `npm run build` in the warren checkout first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2), process.env);
