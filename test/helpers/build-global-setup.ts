import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Vitest global setup of the projects that spawn `bin/warren.js` or `bin/fake-llm.js`: those run the
 * compiled dist/, so build it first when it is missing or older than the sources (scripts/build.sh;
 * a no-op when fresh), so a single `npx vitest run <file>` never tests yesterday's build.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync('bash', ['scripts/build.sh'], { cwd: root, stdio: 'inherit' });
}
