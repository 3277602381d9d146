import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ENV_SETTINGS } from '../config/env-settings.ts';
import { createCliContext, type CliContext, type CliContextOptions } from './cli-context.ts';
import { renderError } from './render-error.ts';
import { registerDlqCommand } from './dlq-command.ts';
import { registerPublishCommand } from './publish-command.ts';
import { registerStartCommand } from './start-command.ts';
import { registerTopologyCommand } from './topology-command.ts';
import { registerInitCommand } from './init-command.ts';

/** Adds one noun's commands (`topology`, `dlq`, ...) to the program. */
export type RegisterCommandGroup = (program: Command, ctx: CliContext) => void;

/**
 * The command groups of `warren`, one file each. To add a group, write
 * `src/cli/<noun>-command.ts` exporting a {@link RegisterCommandGroup} and add one line here.
 */
export const COMMAND_GROUPS: readonly RegisterCommandGroup[] = [
  registerTopologyCommand,
  registerDlqCommand,
  registerStartCommand,
  registerPublishCommand,
  registerInitCommand,
];

function packageVersion(): string {
  // src/cli/ in a checkout, dist/src/cli/ in the built package: the nearest warren package.json up the tree.
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'warren') return pkg.version ?? '0.0.0';
    } catch {
      // not here; try one level up
    }
  }
  return '0.0.0';
}

/**
 * Builds a fresh `warren` program. Commander never calls process.exit (exitOverride),
 * so tests can parse many command lines in one process; use {@link runCli} to get an exit code.
 */
export function createProgram(ctx: CliContext = createCliContext(), groups: readonly RegisterCommandGroup[] = COMMAND_GROUPS): Command {
  const program = new Command('warren')
    .description('RabbitMQ topology-driven task router for LLM jobs')
    .version(packageVersion(), '-V, --version')
    .option('-f, --file <topology.yaml>', `topology file (default: $WARREN_TOPOLOGY or ./${ENV_SETTINGS.topologyFile.default})`)
    .option('--json', 'machine-readable output on stdout')
    .option('--verbose', 'show stack traces and causes on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.io.stdout.write(s),
      writeErr: (s) => void ctx.io.stderr.write(s),
    });
  // Every command reads the settings before it does anything, so an invalid one stops it at start
  // (--help and --version still work with a broken environment).
  program.hook('preAction', () => void ctx.config());
  for (const register of groups) register(program, ctx);
  return program;
}

/** Parses `argv` (without node and script), runs the command and returns the process exit code. Never throws. */
export async function runCli(argv: readonly string[], options: CliContextOptions = {}): Promise<number> {
  const ctx = createCliContext(options);
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed help, the version or the usage error.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : err.exitCode;
    }
    const opts = program.opts<{ json?: boolean; verbose?: boolean }>();
    return renderError(ctx.io, err, {
      json: opts.json === true || argv.includes('--json'),
      verbose: opts.verbose === true || argv.includes('--verbose'),
    });
  }
}
