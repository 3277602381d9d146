import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { ENV_SETTINGS } from '../config/env-settings.ts';
import { WarrenError } from '../errors/index.ts';
import type { CliContext } from './cli-context.ts';

interface PublishFlags {
  data?: string;
  dataFile?: string;
  wait?: string;
  url?: string;
  key?: string;
  idempotencyKey?: string;
}

/** Exit code when `--wait` saw the job end in a state other than succeeded. */
export const EXIT_JOB_FAILED = 4;

function readPayload(flags: PublishFlags): string {
  if (flags.data !== undefined && flags.dataFile !== undefined) throw new WarrenError('CLI_BAD_OPTION', 'give --data or --data-file, not both');
  if (flags.data !== undefined) return flags.data;
  if (flags.dataFile !== undefined) {
    try {
      return readFileSync(flags.dataFile === '-' ? 0 : flags.dataFile, 'utf8');
    } catch (err) {
      throw new WarrenError('CLI_BAD_OPTION', `can't read --data-file ${flags.dataFile}: ${(err as Error).message}`);
    }
  }
  throw new WarrenError('CLI_BAD_OPTION', "the job body is missing: --data '{...}' or --data-file job.json ('-' for stdin)");
}

/**
 * `warren publish <route> --data '{...}' [--wait 30s]`: submits a job through
 * the HTTP API (not straight to the broker), so the CLI gets exactly what API
 * clients get: the route's validation, API-key permissions, idempotency,
 * 202-only-after-confirm and `?wait` from the status index.
 */
export function createPublishCommand(ctx: CliContext): Command {
  return new Command('publish')
    .description('submit a job to a route through the warren API (202 once the broker confirmed it)')
    .argument('<route>', 'route name from topology.yaml (GET /v1/routes lists them)')
    .option('-d, --data <json>', 'the job as JSON')
    .option('--data-file <file>', "read the job from a file ('-' for stdin)")
    .option('--wait <duration>', 'wait up to this long (e.g. 30s) for the job to finish and print its result')
    .option('--url <url>', `API base URL (default: $WARREN_API_URL or http://127.0.0.1:$WARREN_API_PORT, port ${ENV_SETTINGS.apiPort.default})`)
    .option('--key <key>', 'API key (default: $WARREN_API_KEY); prefer the variable, a flag shows in `ps`')
    .option('--idempotency-key <key>', 'the same key returns the first job instead of publishing again')
    .action(async (route: string, flags: PublishFlags, cmd: Command) => {
      const json = ctx.globals(cmd).json;
      const payload = readPayload(flags);
      try {
        JSON.parse(payload);
      } catch (err) {
        throw new WarrenError('CLI_BAD_OPTION', `the job is not valid JSON: ${(err as Error).message}`);
      }
      const waitMs = flags.wait === undefined ? undefined : parseDuration(flags.wait);
      if (flags.wait !== undefined && waitMs === undefined) throw new WarrenError('CLI_BAD_OPTION', `--wait must be a duration such as 30s or 2m, got '${flags.wait}'`);
      const config = ctx.config();
      const base = (flags.url ?? config.apiUrl ?? `http://127.0.0.1:${config.apiPort}`).replace(/\/$/, '');
      const key = flags.key ?? config.apiKey;
      const url = `${base}/v1/jobs/${encodeURIComponent(route)}${waitMs === undefined ? '' : `?wait=${waitMs}ms`}`;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (key !== undefined && key !== '') headers.authorization = `Bearer ${key}`;
      if (flags.idempotencyKey !== undefined) headers['idempotency-key'] = flags.idempotencyKey;

      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout((waitMs ?? 0) + 30_000) });
      } catch (err) {
        const reason = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
        throw new WarrenError('API_UNREACHABLE', `can't reach the warren API at ${base} (${reason}); is 'warren start api' running? Set --url or WARREN_API_URL.`, { cause: err });
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new WarrenError('API_BAD_RESPONSE', `the API at ${base} answered ${res.status} with a non-JSON body; is that URL a warren API?`);
      }
      if (!res.ok) {
        const e = (body as { error?: { code?: string; message?: string; details?: unknown } }).error;
        throw new WarrenError(e?.code ?? `HTTP_${res.status}`, `${e?.message ?? `HTTP ${res.status}`} (HTTP ${res.status})`, { details: e?.details ?? null });
      }
      const job = body as { id: string; route?: string; status: string; result?: unknown; attempts?: { error?: { class: string; message: string } }[] };
      if (json) ctx.printJson(body);
      else if (res.status === 202) ctx.print(`queued job ${job.id} on route '${job.route ?? route}'${waitMs !== undefined ? ` (still ${job.status} after ${flags.wait})` : ''}`);
      else {
        ctx.print(`job ${job.id} ${job.status}`);
        if (job.result !== undefined) ctx.print(JSON.stringify(job.result, null, 2));
        const lastError = job.attempts?.at(-1)?.error;
        if (lastError) ctx.print(`last error: ${lastError.class}: ${lastError.message}`);
      }
      if (res.status === 200 && job.status !== 'succeeded') ctx.exitCode = EXIT_JOB_FAILED;
    });
}

/** Adds `publish` to the program (a RegisterCommandGroup for program.ts). */
export function registerPublishCommand(program: Command, ctx: CliContext): void {
  program.addCommand(createPublishCommand(ctx));
}
