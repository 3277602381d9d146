import { parseArgs } from 'node:util';
import { createFakeLlmServer, type FakeLlmServer } from './fake-llm-server.ts';
import { FakeLlmConfigError } from './fake-llm-config.ts';

const USAGE = `Usage: fake-llm [options]

An OpenAI-compatible server for tests and demos: POST /v1/chat/completions, GET /v1/models.
Markers in the last user message inject failures, e.g. [[fail:429:retry-after=2]], [[hang]].

Options (environment variable in brackets):
  --host <addr>          interface to bind [FAKE_LLM_HOST]         (default 127.0.0.1)
  --port <n>             port [FAKE_LLM_PORT]                       (default 8787)
  --latency <ms>         base latency of every completion [FAKE_LLM_LATENCY_MS] (default 0)
  --jitter <ms>          random extra latency 0..ms [FAKE_LLM_JITTER_MS]        (default 0)
  --rpm <n>              requests per minute before 429 [FAKE_LLM_RPM]          (default 0 = unlimited)
  --rpm-window <ms>      length of the rate-limit window [FAKE_LLM_RPM_WINDOW_MS] (default 60000)
  --api-key <key>        require this bearer key [FAKE_LLM_API_KEY]             (default: any key)
  --failure-rate <0..1>  share of requests answered 500 [FAKE_LLM_FAILURE_RATE] (default 0)
  --strict-models        404 for models not in GET /v1/models
  -h, --help             this text
`;

/** Thrown for command-line mistakes; the runner prints the message and exits 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

function rateOption(name: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--${name} must be between 0 and 1, got '${value}'`);
  return n;
}

/**
 * Starts the standalone fake LLM from command-line arguments and environment; resolves to the
 * running server, or undefined after printing help. Throws on bad arguments.
 */
export async function startFakeLlmFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<FakeLlmServer | undefined> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        latency: { type: 'string' },
        jitter: { type: 'string' },
        rpm: { type: 'string' },
        'rpm-window': { type: 'string' },
        'api-key': { type: 'string' },
        'failure-rate': { type: 'string' },
        'strict-models': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const failureRate = rateOption('failure-rate', values['failure-rate'] ?? env.FAKE_LLM_FAILURE_RATE);
  const apiKey = values['api-key'] ?? env.FAKE_LLM_API_KEY;
  return createFakeLlmServer({
    host: values.host ?? env.FAKE_LLM_HOST ?? '127.0.0.1',
    port: intOption('port', values.port ?? env.FAKE_LLM_PORT, 8787),
    latencyMs: intOption('latency', values.latency ?? env.FAKE_LLM_LATENCY_MS, 0),
    jitterMs: intOption('jitter', values.jitter ?? env.FAKE_LLM_JITTER_MS, 0),
    rpm: intOption('rpm', values.rpm ?? env.FAKE_LLM_RPM, 0),
    rpmWindowMs: intOption('rpm-window', values['rpm-window'] ?? env.FAKE_LLM_RPM_WINDOW_MS, 60_000),
    strictModels: values['strict-models'] === true,
    failures: failureRate > 0 ? [{ rate: failureRate, status: 500 }] : [],
    ...(apiKey ? { apiKey } : {}),
  });
}

/** Entry point of bin/fake-llm.js: runs until SIGINT/SIGTERM, then prints the counters. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let server: FakeLlmServer | undefined;
  try {
    server = await startFakeLlmFromArgs(argv, env);
  } catch (err) {
    const known = err instanceof UsageError || err instanceof FakeLlmConfigError;
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'EADDRINUSE' ? `port already in use (${(err as Error).message}); pick another with --port or FAKE_LLM_PORT` : (err as Error).message;
    process.stderr.write(`fake-llm: ${message}\n${known ? 'Run with --help for the options.\n' : ''}`);
    process.exitCode = known ? 2 : 1;
    return;
  }
  if (!server) return;
  const c = server.config();
  process.stdout.write(
    `fake-llm listening on ${server.url} (latency ${c.latencyMs} ms` +
      `${c.jitterMs > 0 ? ` +0..${c.jitterMs} ms` : ''}, rpm ${c.rpm > 0 ? c.rpm : 'unlimited'}` +
      `${c.apiKey ? ', api key required' : ''}${c.failures.length > 0 ? `, failure rate ${c.failures[0]?.rate}` : ''})\n`,
  );
  const running = server;
  const stop = (signal: string): void => {
    process.stdout.write(`fake-llm: ${signal}, stopping; stats ${JSON.stringify(running.stats())}\n`);
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
