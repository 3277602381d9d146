import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../../src/config/topology-schema.ts';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'worker-process.ts');

/** A worker running in a child process (tsx), for signal and kill tests. */
export interface WorkerProcess {
  child: ChildProcess;
  /** stderr so far (the worker's logs), for failure messages. */
  logs(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Spawns `fixtures/worker-process.ts` on the topology and resolves once it consumes. */
export async function spawnWorkerProcess(topology: Topology, options: { deadlineMs?: number; connectionName?: string } = {}): Promise<WorkerProcess> {
  const file = join(tmpdir(), `warren-worker-topology-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(topology));
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, file, String(options.deadlineMs ?? 10_000)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(options.connectionName ? { WORKER_CONNECTION_NAME: options.connectionName } : {}) },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => {
    rmSync(file, { force: true });
    return (code ?? signal) as number | string;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker process not ready after 20s: ${stderr}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker process exited (${code}) before ready: ${stderr}`));
    });
  });
  return { child, logs: () => stderr, exited };
}
