import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { WarrenError } from '../errors/index.ts';

let tsLoader: Promise<void> | undefined;

/** Node (20) can't import TypeScript by itself: these errors mean "no TS loader is active". */
function isUnknownExtension(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_UNKNOWN_FILE_EXTENSION';
}

/**
 * Registers tsx's ESM loader (`tsx/esm`, the module `node --import tsx/esm`
 * loads), resolved from the handler's own project first, so a user's `.ts`
 * handlers run without a build step when that project has tsx installed.
 * Once per process.
 */
function registerTsLoader(file: string): Promise<void> {
  tsLoader ??= (isMainThread ? registerInMainThread(file) : registerInWorkerThread(file)).catch((err: unknown) => {
    tsLoader = undefined;
    throw err;
  });
  return tsLoader;
}

function loaderMissing(file: string, cause: unknown): WarrenError {
  return new WarrenError(
    'TS_LOADER_MISSING',
    `${file} is TypeScript, and no TypeScript loader is installed: add tsx to your project (npm install tsx) or compile the handler to .js beside it`,
    { cause },
  );
}

async function registerInMainThread(file: string): Promise<void> {
  let loader: string;
  try {
    loader = createRequire(file).resolve('tsx/esm');
  } catch {
    try {
      loader = createRequire(import.meta.url).resolve('tsx/esm');
    } catch (err) {
      throw loaderMissing(file, err);
    }
  }
  await import(pathToFileURL(loader).href);
}

/**
 * In a worker thread (the API's batch thread loads payload schemas) `tsx/esm` registers nothing;
 * tsx's register API does. Resolved from warren's own files, which finds the project's tsx when
 * warren is installed in the project.
 */
async function registerInWorkerThread(file: string): Promise<void> {
  let api: string;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch (err) {
    throw loaderMissing(file, err);
  }
  const { register } = (await import(api)) as { register: () => unknown };
  register();
}

/**
 * Imports a handler or payload-schema module from the user's project. `.js`/`.mjs`
 * load as they are; `.ts`/`.mts` load as they are when a TypeScript loader is
 * already active (tsx, vitest), else through tsx from the project (above).
 */
export async function importConsumerModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  try {
    return await import(url);
  } catch (err) {
    if (!/\.m?ts$/.test(file) || !isUnknownExtension(err)) throw err;
  }
  await registerTsLoader(file);
  // Node remembers the failed import of `url`: load the now-compilable file under a fresh URL.
  return import(`${url}?ts-loader`);
}
