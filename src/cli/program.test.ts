import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError, ManagementApiError } from '../errors/index.ts';
import { createFakeManagement } from '../topology/fake-management.test-support.ts';
import { createCliContext, EXIT } from './cli-context.ts';
import { captureIo, removeTempProjects, tempProject } from './cli-test-io.test-support.ts';
import { createProgram, runCli } from './program.ts';

const dir = tempProject({ 'topology.yaml': 'version: 1\nconnection: { vhost: app }\nqueues:\n  work: {}\n' });
const file = join(dir, 'topology.yaml');

afterAll(removeTempProjects);

describe('runCli', () => {
  it('prints help and the version with exit 0', async () => {
    const help = captureIo();
    expect(await runCli(['--help'], { io: help, env: {} })).toBe(0);
    expect(help.out()).toContain('Usage: warren [options] [command]');
    expect(help.out()).toContain('topology');

    const version = captureIo();
    expect(await runCli(['--version'], { io: version, env: {} })).toBe(0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version.out()).toBe(`${pkg.version}\n`);
  });

  it('rejects an unknown command with exit 1 and a usage hint', async () => {
    const io = captureIo();
    expect(await runCli(['topology', 'frob'], { io, env: {} })).toBe(1);
    expect(io.err()).toContain("error: unknown command 'frob'");
  });

  it('reads the file from $WARREN_TOPOLOGY when -f is not given', async () => {
    const io = captureIo();
    const code = await runCli(['topology', 'plan'], { io, env: { WARREN_TOPOLOGY: file }, management: () => createFakeManagement() });
    expect(code).toBe(EXIT.changesPending);
    expect(io.out()).toContain(`from ${file}:`);
  });

  it('fails at start, before touching the broker, on an invalid setting, naming the variable', async () => {
    const io = captureIo();
    let asked = false;
    const code = await runCli(['-f', file, 'topology', 'plan'], {
      io,
      env: { WARREN_API_PORT: 'eighty', WARREN_DLQ_MAX_REQUEUES: '-1' },
      management: () => {
        asked = true;
        return createFakeManagement();
      },
    });
    expect(code).toBe(1);
    expect(asked).toBe(false);
    expect(io.err()).toBe(
      "error: invalid configuration (2 problems):\n  - WARREN_API_PORT must be a port number 0-65535, got 'eighty'\n  - WARREN_DLQ_MAX_REQUEUES must be a whole number (0 or more), got '-1'\n",
    );
  });

  it('shows an unreachable broker as one paragraph without a stack trace', async () => {
    const io = captureIo();
    const failAll = () => new BrokerUnavailableError('RabbitMQ management API at http://guest:***@127.0.0.1:15672 is not reachable (connect ECONNREFUSED 127.0.0.1:15672).');
    const code = await runCli(['-f', file, 'topology', 'plan'], { io, env: {}, management: () => createFakeManagement({ failAll }) });
    expect(code).toBe(1);
    expect(io.out()).toBe('');
    expect(io.err()).toBe('error: RabbitMQ management API at http://guest:***@127.0.0.1:15672 is not reachable (connect ECONNREFUSED 127.0.0.1:15672).\n');
  });

  it('adds the stack and cause with --verbose', async () => {
    const io = captureIo();
    const cause = new Error('connect ECONNREFUSED');
    const failAll = () => new BrokerUnavailableError('not reachable', { cause });
    await runCli(['-f', file, 'topology', 'plan', '--verbose'], { io, env: {}, management: () => createFakeManagement({ failAll }) });
    expect(io.err()).toMatch(/^error: not reachable\nBrokerUnavailableError: not reachable\n {4}at /);
    expect(io.err()).toContain('caused by: Error: connect ECONNREFUSED');
  });

  it('prints errors as JSON on stdout with --json', async () => {
    const io = captureIo();
    const failAll = () => new ManagementApiError(401, 'RabbitMQ management API refused the credentials (401).');
    const code = await runCli(['-f', file, '--json', 'topology', 'plan'], { io, env: {}, management: () => createFakeManagement({ failAll }) });
    expect(code).toBe(1);
    expect(JSON.parse(io.out())).toEqual({ error: { code: 'BROKER_AUTH_FAILED', message: 'RabbitMQ management API refused the credentials (401).', details: null } });
    expect(io.err()).toBe('');
  });

  it('labels a non-warren error as unexpected and points to --verbose', async () => {
    const io = captureIo();
    const failAll = () => new TypeError('cannot read properties of undefined');
    await runCli(['-f', file, 'topology', 'plan'], { io, env: {}, management: () => createFakeManagement({ failAll }) });
    expect(io.err()).toBe('error: unexpected failure: cannot read properties of undefined (run with --verbose for the stack trace)\n');
  });
});

describe('createProgram', () => {
  it('registers command groups from a list, sharing the context and global options', async () => {
    const io = captureIo();
    const ctx = createCliContext({ io, env: {} });
    const program = createProgram(ctx, [
      (p, c) => {
        p.command('hello').action((_o: object, cmd: import('commander').Command) => {
          c.print(`hello from ${c.globals(cmd).file}, json=${String(c.globals(cmd).json)}`);
          c.exitCode = 5;
        });
      },
    ]);
    await program.parseAsync(['-f', 'x.yaml', 'hello', '--json'], { from: 'user' });
    expect(io.out()).toBe('hello from x.yaml, json=true\n');
    expect(ctx.exitCode).toBe(5);
  });
});
