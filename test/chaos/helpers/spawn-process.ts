import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** How a spawned process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child process the failure suite owns: one real `node` process (no npx or shell
 * wrapper in between, so SIGKILL hits the process that holds the connections),
 * its output kept for diagnostics, and its memory readable for the soak.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout + stderr so far (the last 200 kB). */
  output(): string;
  /** Resolves when a line matching `pattern` was printed (or already was); rejects after `timeoutMs` or on exit. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends a signal (SIGKILL to crash it, SIGTERM to ask it to stop). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** Resolves when the process exited. */
  readonly exited: Promise<ProcessExit>;
  /** True until the process exited. */
  isRunning(): boolean;
  /** Resident set size in bytes (Linux /proc), or undefined once exited. */
  rssBytes(): number | undefined;
  /**
   * How many JSON log lines (pino) with exactly this `msg` the process printed so far, over its whole
   * life (unlike {@link output}, which keeps only the tail): the evidence that a fault reached it.
   */
  logCount(msg: string): number;
}

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions {
  /** Label in logs and errors. */
  name: string;
  /** Script (TypeScript is fine: it runs under tsx) and its arguments. */
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Echo the child's output to this process's stderr (debugging). @default WARREN_CHAOS_VERBOSE=1 */
  echo?: boolean;
}

const OUTPUT_MAX = 200_000;

/** Reads VmRSS of a Linux process. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Spawns `node --import tsx <args>` and keeps its output. */
export function spawnNode(options: SpawnNodeOptions): ManagedProcess {
  const echo = options.echo ?? process.env.WARREN_CHAOS_VERBOSE === '1';
  // WARREN_CHAOS_NODE_ARGS: extra node flags for every spawned process (diagnostics: `--cpu-prof --cpu-prof-dir=/tmp/p`,
  // which NODE_OPTIONS refuses).
  const nodeArgs = (process.env.WARREN_CHAOS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...options.args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: spawn failed`);
  const pid = child.pid;
  let output = '';
  let running = true;
  const watchers = new Set<() => void>();

  const logCounts = new Map<string, number>();
  const partial = { stdout: '', stderr: '' };
  const countLogLines = (stream: 'stdout' | 'stderr', text: string) => {
    const lines = (partial[stream] + text).split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        if (typeof msg === 'string') logCounts.set(msg, (logCounts.get(msg) ?? 0) + 1);
      } catch {
        // not a log line
      }
    }
  };

  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    countLogLines(stream, text);
    output = (output + text).slice(-OUTPUT_MAX);
    if (echo) process.stderr.write(text.replace(/^/gm, `[${options.name}] `));
    for (const w of watchers) w();
  };
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));

  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      for (const w of watchers) w();
      resolve({ code, signal });
    });
  });

  return {
    name: options.name,
    pid,
    child,
    output: () => output,
    exited,
    isRunning: () => running,
    rssBytes: () => (running ? readRssBytes(pid) : undefined),
    logCount: (msg) => logCounts.get(msg) ?? 0,
    waitForOutput(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            done();
            resolve(match[0]);
          } else if (!running) {
            done();
            reject(new Error(`${options.name} exited before printing ${pattern}:\n${output.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${options.name} did not print ${pattern} within ${timeoutMs}ms:\n${output.slice(-4000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    kill(signal) {
      if (running) child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      if (!running) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
