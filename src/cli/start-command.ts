import { accessSync, constants, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { DlqOperationsFactory } from '../api/dlq-operations.ts';
import type { StartApiOptions } from '../api/start-api.ts';
import { parseDuration } from '../config/duration.ts';
import { ENV_SETTINGS, type WarrenConfig } from '../config/env-settings.ts';
import type { LoadedTopology } from '../config/load-topology.ts';
import { createDlqRequests } from '../dlq/dlq-requests.ts';
import { createDeadLetterPlacer } from '../dlq/event-groups.ts';
import { createDlqService } from '../dlq/dlq-service.ts';
import type { DlqDeps } from '../dlq/dlq-deps.ts';
import { createDlqTopology } from '../dlq/dlq-topology.ts';
import { createFileJournal, defaultJournalPath } from '../dlq/requeue-journal.ts';
import { WarrenError } from '../errors/index.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createTracing } from '../observability/tracing.ts';
import { ensureTopology } from '../topology/ensure-topology.ts';
import type { CliContext } from './cli-context.ts';

/** What `warren start` runs in this process. */
export type StartMode = 'api' | 'worker' | 'all';

/** Flags of `warren start`. */
export interface StartFlags {
  consumers?: string;
  port?: string;
  host?: string;
  metricsPort?: string;
  apply?: boolean;
  fakeLlm?: boolean;
  shutdownDeadline?: string;
}

/** Something `start` runs that must be stopped on shutdown, in reverse order of starting. */
interface Part {
  name: string;
  close(deadlineMs: number): Promise<unknown>;
}

/** The fake LLM address the shipped topology falls back to when no OPENAI_BASE_URL is set. */
const FAKE_LLM_HOSTS = new Set(['127.0.0.1', 'localhost']);

function portIsOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The local fake-LLM endpoints providers point at: a provider whose baseURL is on
 * localhost and whose key is not a real one (no OPENAI_API_KEY in the environment).
 */
export function fakeLlmEndpoints(loaded: LoadedTopology, openAiApiKey: string | undefined): { host: string; port: number }[] {
  if (openAiApiKey !== undefined && openAiApiKey !== '') return [];
  const out = new Map<string, { host: string; port: number }>();
  for (const p of Object.values(loaded.topology.providers)) {
    const u = new URL(p.baseURL);
    if (!FAKE_LLM_HOSTS.has(u.hostname)) continue;
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    out.set(`${u.hostname}:${port}`, { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port });
  }
  return [...out.values()];
}

function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new WarrenError('CLI_BAD_OPTION', `${name} must be a port number 0-65535, got '${value}'`);
  return n;
}

/** Options of {@link dlqForApi}. */
export interface DlqForApiOptions {
  /**
   * `file`: the requeue journal of `warren dlq requeue` (`$XDG_STATE_HOME/warren/dlq/<vhost>/<queue>.journal`), so a
   * run the API (or the console) started and a process that died between confirm and ack are recognised by the next
   * run of either on this host; falls back to `memory` with a warning when that folder is not writable.
   * `memory`: nothing remembered across processes. @default 'memory' (`warren start` passes 'file')
   */
  journal?: 'file' | 'memory';
  /** Where XDG_STATE_HOME is read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** True when the journal folder of `vhost` can be written: it, or the nearest folder above it that exists (nothing is created here). */
function journalWritable(vhost: string, env: NodeJS.ProcessEnv): boolean {
  let folder = dirname(defaultJournalPath(vhost, 'probe', env));
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The /v1/dlq operations `warren start` gives the API: src/dlq's service on the
 * API's connection, with the configured requeue cap (WARREN_DLQ_MAX_REQUEUES,
 * the same value `warren dlq` uses) and, with `journal: 'file'`, the CLI's journal.
 */
export function dlqForApi(config: Pick<WarrenConfig, 'dlqMaxRequeues'>, options: DlqForApiOptions = {}): DlqOperationsFactory {
  return (wiring) => {
    const env = options.env ?? process.env;
    let journal: DlqDeps['journal'];
    if (options.journal === 'file') {
      if (journalWritable(wiring.topology.connection.vhost, env)) journal = (vhost, queue) => createFileJournal(defaultJournalPath(vhost, queue, env));
      else wiring.logger.warn({ folder: dirname(defaultJournalPath(wiring.topology.connection.vhost, 'probe', env)) }, 'the DLQ requeue journal folder is not writable: API requeues keep their journal in memory (set XDG_STATE_HOME to a writable folder)');
    }
    const requests = createDlqRequests(createDlqService({ ...wiring, ...(journal === undefined ? {} : { journal }) }), {
      maxRequeues: config.dlqMaxRequeues,
      ...(wiring.deadLetters === undefined ? {} : { events: { records: wiring.deadLetters, placer: createDeadLetterPlacer(wiring.topology) } }),
    });
    const deadLetterQueues = [...createDlqTopology(wiring.topology).deadLetterQueues].sort();
    return { ...requests, queues: () => deadLetterQueues };
  };
}

/** What `warren start` passes to startApi: every setting from the one configuration, `--port` / `--host` winning. */
export function apiStartOptions(config: WarrenConfig, flags: Pick<StartFlags, 'port' | 'host'>, loaded: LoadedTopology, logger: Logger): StartApiOptions {
  const port = intFlag(flags.port, '--port');
  return {
    topology: loaded,
    logger,
    config,
    dlq: dlqForApi(config, { journal: 'file' }),
    ...(port === undefined ? {} : { port }),
    ...(flags.host === undefined ? {} : { host: flags.host }),
  };
}

async function startParts(mode: StartMode, flags: StartFlags, loaded: LoadedTopology, ctx: CliContext, logger: Logger): Promise<Part[]> {
  const parts: Part[] = [];
  const config = ctx.config();
  try {
    // Tracing only with OTEL_EXPORTER_OTLP_ENDPOINT; stopped last, so the workers' and API's final spans are flushed.
    const tracing = await createTracing({ endpoint: config.otlpEndpoint, serviceName: `warren-${mode}` });
    const tracer = tracing.tracer;
    if (tracer !== undefined) {
      parts.push({ name: 'tracing', close: () => tracing.shutdown() });
      logger.info({ endpoint: config.otlpEndpoint }, 'tracing: exporting spans over OTLP/HTTP');
    }
    if (mode !== 'api' && flags.fakeLlm !== false) {
      for (const ep of fakeLlmEndpoints(loaded, config.openAiApiKey)) {
        if (await portIsOpen(ep.host, ep.port)) continue;
        const { createFakeLlmServer } = await import('../../fake-llm/index.ts');
        const latencyMs = config.fakeLlmLatencyMs;
        const server = await createFakeLlmServer({ host: ep.host, port: ep.port, latencyMs });
        logger.info({ url: server.url, latencyMs }, 'no OPENAI_API_KEY: started the built-in fake LLM (set OPENAI_API_KEY and OPENAI_BASE_URL for a real provider)');
        parts.push({ name: 'fake-llm', close: () => server.close() });
      }
    }
    if (flags.apply !== false) {
      // Creates what is missing and updates policies; refuses (TOPOLOGY_DRIFT) on what RabbitMQ can't change; never deletes.
      await ensureTopology(loaded.topology, ctx.management(loaded.topology), logger);
    }
    if (mode !== 'worker') {
      const { startApi } = await import('../api/start-api.ts');
      const api = await startApi({ ...apiStartOptions(config, flags, loaded, logger), ...(tracer === undefined ? {} : { tracer }) });
      parts.push({ name: 'api', close: () => api.close() });
    }
    if (mode !== 'api') {
      const { startWorker } = await import('../worker/start-worker.ts');
      const metricsPort = intFlag(flags.metricsPort, '--metrics-port') ?? config.metricsPort;
      const consumers = flags.consumers?.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const worker = await startWorker({
        topology: loaded,
        logger,
        config,
        metricsHost: config.metricsHost,
        ...(consumers === undefined ? {} : { consumers }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
        ...(tracer === undefined ? {} : { tracer }),
      });
      logger.info({ consumers: worker.consumers, metrics: worker.metricsUrl }, 'workers consuming');
      parts.push({ name: 'worker', close: (deadlineMs) => worker.close(deadlineMs) });
    }
  } catch (err) {
    await stopParts(parts, 5_000, logger);
    throw err;
  }
  return parts;
}

async function stopParts(parts: readonly Part[], deadlineMs: number, logger: Logger): Promise<void> {
  // Workers first (they may still publish results), then the API, then the fake LLM.
  for (const part of [...parts].reverse()) {
    try {
      await part.close(deadlineMs);
    } catch (err) {
      logger.error({ part: part.name, err: (err as Error).message }, 'failed to stop cleanly');
    }
  }
}

/** Registers `warren start [api|worker|all]`: the composition root of a running warren. */
export function registerStartCommand(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('run warren: the HTTP API, the workers, or both (applies topology.yaml on boot)')
    .argument('[mode]', 'api | worker | all', 'all')
    .option('--consumers <names>', 'comma-separated consumer names to run (default: all in topology.yaml)')
    .option('--port <port>', `API port (default: $WARREN_API_PORT or ${ENV_SETTINGS.apiPort.default})`)
    .option('--host <host>', `API interface (default: $WARREN_API_HOST or ${ENV_SETTINGS.apiHost.default})`)
    .option('--metrics-port <port>', 'worker /metrics port (default: $WARREN_METRICS_PORT; none when unset)')
    .option('--no-apply', "don't apply the topology on boot")
    .option('--no-fake-llm', "don't start the built-in fake LLM even when no OPENAI_API_KEY is set")
    .option('--shutdown-deadline <duration>', 'time in-flight jobs get on SIGTERM/SIGINT', '30s')
    .action(async (mode: string, flags: StartFlags, cmd: Command) => {
      if (mode !== 'api' && mode !== 'worker' && mode !== 'all') {
        throw new WarrenError('CLI_BAD_ARGUMENT', `unknown mode '${mode}': use api, worker or all`);
      }
      const deadlineMs = parseDuration(flags.shutdownDeadline ?? '30s');
      if (deadlineMs === undefined) throw new WarrenError('CLI_BAD_OPTION', `--shutdown-deadline: invalid duration '${flags.shutdownDeadline ?? ''}'`);
      const loaded = ctx.loadTopology(cmd);
      const logger = createLogger({ name: 'warren', level: ctx.config().logLevel, format: ctx.config().logFormat, color: ctx.color });
      const parts = await startParts(mode, flags, loaded, ctx, logger);

      // Stay up until a signal: the first stops gracefully, a second exits at once
      // (the broker redelivers anything unacked).
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopping) {
            logger.warn({ signal }, 'second signal: exiting now; unacked jobs will be redelivered');
            process.exit(1);
          }
          stopping = true;
          logger.info({ signal, deadlineMs }, 'shutting down gracefully');
          stopParts(parts, deadlineMs, logger).then(resolve, resolve);
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
    });
}
