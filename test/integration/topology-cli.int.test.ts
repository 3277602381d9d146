import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.ts';
import { captureIo } from '../../src/cli/cli-test-io.test-support.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { SHIPPED_TOPOLOGY } from './helpers/topology.ts';

const BIN = resolve(import.meta.dirname, '../../bin/warren.js');
const run = promisify(execFile);

/** Runs the real bin in a child process; resolves with the exit code instead of throwing. */
async function spawnWarren(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('warren topology CLI against the real broker', () => {
  let vh: TestVhost;
  let env: Record<string, string>;

  beforeAll(async () => {
    vh = await createTestVhost('topo-cli');
    env = { WARREN_VHOST: vh.vhost, WARREN_MANAGEMENT_URL: vh.managementUrl };
  });

  afterAll(async () => {
    await vh?.cleanup();
  });

  async function cli(args: string[], extraEnv: Record<string, string> = {}) {
    const io = captureIo();
    const code = await runCli(['-f', SHIPPED_TOPOLOGY, ...args], { io, env: { ...env, ...extraEnv } });
    return { code, out: io.out(), err: io.err() };
  }

  it('plan (exit 2), apply (exit 0), plan again (exit 0, no changes)', async () => {
    const before = await cli(['topology', 'plan']);
    expect(before.code).toBe(2);
    expect(before.out).toContain(`Plan for vhost '${vh.vhost}' on http://guest:***@127.0.0.1:15672`);
    expect(before.out).toContain('  + queue llm.realtime  (quorum)');

    const applied = await cli(['topology', 'apply']);
    expect(applied.err).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(new RegExp(`Applied \\d+ changes to vhost '${vh.vhost}' in \\d+\\.\\d s\\.`));

    const after = await cli(['topology', 'plan']);
    expect(after.code).toBe(0);
    expect(after.out).toContain(`No changes: vhost '${vh.vhost}' matches ${SHIPPED_TOPOLOGY}.`);

    const again = await cli(['topology', 'apply', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ inSync: true, applied: { writes: 0 } });
  });

  it('says clearly when the credentials are wrong', async () => {
    const { code, out, err } = await cli(['topology', 'plan'], { WARREN_MANAGEMENT_URL: 'http://guest:wrong@127.0.0.1:15672' });
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      'error: RabbitMQ management API at http://guest:***@127.0.0.1:15672 refused the credentials (401). Check the user and password in connection.management.\n',
    );
  });

  it('says clearly when the management API does not answer', async () => {
    const { code, err } = await cli(['topology', 'apply'], { WARREN_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:59999' });
    expect(code).toBe(1);
    expect(err).toMatch(/^error: RabbitMQ management API at http:\/\/guest:\*\*\*@127\.0\.0\.1:59999 is not reachable \(.*ECONNREFUSED.*\)\. Is the broker running with the rabbitmq_management plugin enabled\?/);
    expect(err.split('\n').filter((l) => l !== '')).toHaveLength(1);
  });

  it('the bin exits with the plan code, prints JSON, and shows errors without a stack trace', async () => {
    const ok = await spawnWarren(['-f', SHIPPED_TOPOLOGY, 'topology', 'plan', '--json'], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ vhost: vh.vhost, inSync: true });

    const bad = await spawnWarren(['-f', SHIPPED_TOPOLOGY, 'topology', 'plan'], { ...env, WARREN_MANAGEMENT_URL: 'http://guest:wrong@127.0.0.1:15672' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'error: RabbitMQ management API at http://guest:***@127.0.0.1:15672 refused the credentials (401). Check the user and password in connection.management.\n',
    );

    const missing = await spawnWarren(['-f', 'no/such/topology.yaml', 'topology', 'plan'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: topology is invalid:\n {2}- no\/such\/topology\.yaml: can't read topology file: ENOENT/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});
