import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** File extensions a consumer module may have, in the order they are tried. */
export const CONSUMER_MODULE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** The file of `<dir>/<name>` with the first extension that exists, or undefined. */
export function findConsumerModule(dir: string, name: string): string | undefined {
  for (const ext of CONSUMER_MODULE_EXTENSIONS) {
    const file = join(dir, name + ext);
    if (existsSync(file)) return file;
  }
  return undefined;
}
