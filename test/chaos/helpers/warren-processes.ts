import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnNode, type ManagedProcess } from './spawn-process.ts';
import { REPO_ROOT } from './scenario-topology.ts';

const WARREN_BIN = join(REPO_ROOT, 'bin', 'warren.js');

/** A free loopback port (asked from the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Environment every warren child process of a scenario gets. */
export function warrenEnv(topologyFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    WARREN_TOPOLOGY: topologyFile,
    WARREN_AUTH: 'none',
    // A key is set, so `warren start` never starts its own fake LLM: the scenario's fake answers.
    OPENAI_API_KEY: 'chaos-fake-key',
    WARREN_LOG_LEVEL: process.env.WARREN_CHAOS_LOG_LEVEL ?? 'info',
    ...extra,
  };
}

/** A `warren start api` process and its URL. */
export interface ApiProcess {
  proc: ManagedProcess;
  url: string;
  port: number;
}

/** Starts `warren start api --no-apply` on `port` and waits until /readyz answers 200. */
export async function startApiProcess(opts: { name: string; topologyFile: string; port: number; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number }): Promise<ApiProcess> {
  const proc = spawnNode({
    name: opts.name,
    args: [WARREN_BIN, 'start', 'api', '--no-apply', '--port', String(opts.port)],
    env: warrenEnv(opts.topologyFile, opts.env),
  });
  const url = `http://127.0.0.1:${opts.port}`;
  await waitForReady(proc, `${url}/readyz`, opts.readyTimeoutMs ?? 45_000);
  return { proc, url, port: opts.port };
}

/** Starts `warren start worker --no-apply` and waits until it consumes. */
export async function startWorkerProcess(opts: { name: string; topologyFile: string; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number }): Promise<ManagedProcess> {
  const proc = spawnNode({
    name: opts.name,
    args: [WARREN_BIN, 'start', 'worker', '--no-apply', '--no-fake-llm', '--shutdown-deadline', '5s'],
    env: warrenEnv(opts.topologyFile, opts.env),
  });
  await proc.waitForOutput(/"msg":"worker started"/, opts.readyTimeoutMs ?? 45_000);
  return proc;
}

/** Runs a warren CLI command to completion (e.g. `dlq requeue`); resolves with its exit code and output. */
export async function runWarren(args: readonly string[], topologyFile: string, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const proc = spawnNode({ name: `warren ${args[0] ?? ''}`, args: [WARREN_BIN, ...args], env: warrenEnv(topologyFile) });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { code: exit.code, output: proc.output() };
}

async function waitForReady(proc: ManagedProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.isRunning()) throw new Error(`${proc.name} exited while starting:\n${proc.output().slice(-4000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`${proc.name} was not ready (${url}) within ${timeoutMs}ms:\n${proc.output().slice(-4000)}`);
}
