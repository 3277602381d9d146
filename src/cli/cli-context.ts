import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { createManagementClient, type ManagementClient } from '../broker/management-client.ts';
import type { WarrenConfig } from '../config/env-settings.ts';
import { loadConfig } from '../config/load-config.ts';
import { loadTopology, type LoadedTopology, type LoadOptions } from '../config/load-topology.ts';
import type { Topology } from '../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';

/** Where the CLI writes, and how it asks; injected so tests capture output without a terminal. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Asks a yes/no question on the terminal; absent when there is no terminal to ask on. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Options every command understands (declared once on the program). */
export interface GlobalOptions {
  /** Topology file. @default $WARREN_TOPOLOGY (see src/config/env-settings.ts) */
  file: string;
  /** Machine-readable output on stdout. @default false */
  json: boolean;
  /** Stack traces and causes on errors. @default false */
  verbose: boolean;
}

/** Exit codes of the CLI (documented in the README). */
export const EXIT = {
  ok: 0,
  error: 1,
  /** `plan` (and `apply --dry-run`): the broker differs and apply would change it. */
  changesPending: 2,
  /** Something differs in a way RabbitMQ can't change in place; apply refuses. */
  drift: 3,
} as const;

/** What command groups get: I/O, env, global options, and factories for topology and broker clients. */
export interface CliContext {
  io: CliIo;
  /** The environment, for `${VAR}` in topology.yaml and conventions like NO_COLOR; settings come from {@link CliContext.config}. */
  env: NodeJS.ProcessEnv;
  /** warren's settings (src/config/env-settings.ts), read from `env` once, on first use; invalid ones throw a ConfigError naming the variable. */
  config(): WarrenConfig;
  /** Exit code the process ends with when the action returns normally. */
  exitCode: number;
  /** True when stdout is a terminal and NO_COLOR is unset. */
  color: boolean;
  globals(cmd: Command): GlobalOptions;
  /** Loads the `-f` file with the CLI's env. */
  loadTopology(cmd: Command, options?: Pick<LoadOptions, 'checkHandlers' | 'schemaNames'>): LoadedTopology;
  /** Management client for the topology's `connection.management`. */
  management(topology: Topology): ManagementClient;
  /** Writes a line to stdout. */
  print(text: string): void;
  /** Writes a JSON document (one line) to stdout. */
  printJson(value: unknown): void;
}

/** Options of {@link createCliContext}; everything defaults to the real process. */
export interface CliContextOptions {
  io?: CliIo;
  env?: NodeJS.ProcessEnv;
  /** Replaces the management client factory (tests). */
  management?: (topology: Topology) => ManagementClient;
}

async function confirmOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function processIo(): CliIo {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr };
  if (process.stdin.isTTY && process.stderr.isTTY) io.confirm = confirmOnTerminal;
  return io;
}

/** Payload schema names a route may use: the built-ins plus `consumers/schemas/<name>.ts`. */
export function knownSchemaNames(consumersDir: string): string[] {
  const dir = join(consumersDir, 'schemas');
  const custom = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(m?ts|m?js)$/.test(f) && !/\.test\./.test(f)).map((f) => f.replace(/\.(m?ts|m?js)$/, '')) : [];
  return [...new Set([...Object.keys(BUILTIN_PAYLOAD_SCHEMAS), ...custom])];
}

/** Creates the context the program's command groups share. */
export function createCliContext(options: CliContextOptions = {}): CliContext {
  const io = options.io ?? processIo();
  const env = options.env ?? process.env;
  let config: WarrenConfig | undefined;
  const ctx: CliContext = {
    io,
    env,
    config: () => (config ??= loadConfig(env)),
    exitCode: EXIT.ok,
    color: io.stdout.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === ''),
    globals(cmd) {
      const o = cmd.optsWithGlobals<{ file?: string; json?: boolean; verbose?: boolean }>();
      return { file: o.file ?? ctx.config().topologyFile, json: o.json === true, verbose: o.verbose === true };
    },
    loadTopology(cmd, loadOptions = {}) {
      // Keep the path as typed, so messages show what the user wrote.
      return loadTopology(ctx.globals(cmd).file, { env, ...loadOptions });
    },
    // 30 s, not the client's 10 s: on a vhost with hundreds of queues one policy write makes
    // RabbitMQ re-match every queue, and a timeout mid-apply leaves the write's outcome unknown.
    management: options.management ?? ((topology) => createManagementClient({ url: topology.connection.management, timeoutMs: 30_000 })),
    print(text) {
      io.stdout.write(`${text}\n`);
    },
    printJson(value) {
      io.stdout.write(`${JSON.stringify(value)}\n`);
    },
  };
  return ctx;
}
