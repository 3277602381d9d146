import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { WarrenError } from '../errors/index.ts';
import type { CliContext } from './cli-context.ts';
import { INIT_FILES, initPackageJson } from './init-templates.ts';

interface InitFlags {
  force?: boolean;
}

/** npm's rules for a package name, loosely: lowercase, no spaces. */
function packageName(dir: string): string {
  return basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'warren-project';
}

/**
 * `warren init [dir]`: scaffolds a project that uses the installed warren
 * package: topology.yaml, one handler and its schema, tsconfig, Dockerfile,
 * compose file and a README snippet. Never overwrites a file without --force.
 */
export function createInitCommand(ctx: CliContext): Command {
  return new Command('init')
    .description('scaffold a warren project: topology.yaml, a handler, a schema, Dockerfile, compose file')
    .argument('[dir]', 'directory to write into (created when missing)', '.')
    .option('--force', 'overwrite files that already exist')
    .action((dir: string, flags: InitFlags) => {
      const root = resolve(dir);
      const files = [...INIT_FILES];
      if (!existsSync(join(root, 'package.json'))) files.push({ path: 'package.json', content: initPackageJson(packageName(root)) });
      const existing = files.filter((f) => existsSync(join(root, f.path))).map((f) => f.path);
      if (existing.length > 0 && flags.force !== true) {
        throw new WarrenError('INIT_FILES_EXIST', `${root} already has ${existing.join(', ')}; nothing written (--force overwrites them)`);
      }
      for (const f of files) {
        const file = join(root, f.path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, f.content);
        ctx.io.stdout.write(`  wrote ${f.path}\n`);
      }
      ctx.io.stdout.write(
        [
          '',
          'Next:',
          ...(dir === '.' ? [] : [`  cd ${dir}`]),
          '  npm install warren tsx        # tsx runs the .ts handlers without a build step',
          '  npm install -D typescript @types/node && npx tsc -p tsconfig.json   # type-check them',
          '  npx warren start all          # API + workers against RabbitMQ on 127.0.0.1:5672',
          '',
        ].join('\n'),
      );
    });
}

/** Registers `warren init` (see {@link COMMAND_GROUPS}). */
export function registerInitCommand(program: Command, ctx: CliContext): void {
  program.addCommand(createInitCommand(ctx));
}
