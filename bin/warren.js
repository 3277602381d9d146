#!/usr/bin/env node
// The `warren` CLI: runs the compiled package (dist/, built by `npm run build`; the published
// package ships it). In a checkout, `npm start` and `npm test` build it when it is missing or stale.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('warren: dist/ is missing; run `npm run build` in the warren checkout first\n');
  process.exit(1);
}
await import(main.href);
