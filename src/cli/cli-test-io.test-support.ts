import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CliIo } from './cli-context.ts';

/** Captured CLI output for tests. */
export interface CapturedIo extends CliIo {
  out: () => string;
  err: () => string;
}

/** An io that records stdout/stderr; `confirm` is only present when an answer is given (as with a terminal). */
export function captureIo(options: { tty?: boolean; answer?: boolean } = {}): CapturedIo {
  let out = '';
  let err = '';
  const io: CapturedIo = {
    stdout: { write: (s: string) => (out += s), isTTY: options.tty === true },
    stderr: { write: (s: string) => (err += s), isTTY: options.tty === true },
    out: () => out,
    err: () => err,
  };
  if (options.answer !== undefined) {
    const answer = options.answer;
    io.confirm = async () => answer;
  }
  return io;
}

const created: string[] = [];

/** Writes `files` (relative path -> content) into a fresh temp directory and returns its path. */
export function tempProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-cli-'));
  created.push(dir);
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return dir;
}

/** Deletes every directory {@link tempProject} created (call in afterAll). */
export function removeTempProjects(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
