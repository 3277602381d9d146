import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execForm, parseDockerfile } from '../../scripts/dockerfile.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

// The package as a user gets it: `npm pack` of this checkout, installed from the tarball into a fresh
// project that has its own topology.yaml (from `warren init`) and a handler written against the public
// types, then type-checked and run with `warren start all` against the real broker.
const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

/** The image's runtime stage: its ENV, ENTRYPOINT + CMD and HEALTHCHECK, run here from the install folder as if it were /app. */
const IMAGE = (() => {
  const stage = parseDockerfile(join(REPO, 'Dockerfile')).at(-1);
  const arg = (k: string) => stage?.instructions.find((i) => i.keyword === k)?.args ?? '';
  const env = Object.fromEntries(
    stage?.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string])) ?? [],
  );
  const health = arg('HEALTHCHECK');
  return { env, command: [...(execForm(arg('ENTRYPOINT')) ?? []), ...(execForm(arg('CMD')) ?? [])], healthcheck: execForm(health.slice(health.indexOf('CMD') + 3).trim()) ?? [] };
})();
/** argv of the image's command with `node` as this Node and /app as `dir`. */
const inFolder = (argv: string[], dir: string) => argv.map((a, i) => (i === 0 && a === 'node' ? process.execPath : a.replace(/^\/app\b/, dir)));

/** The handler the test writes: fails for good while `blocked` exists beside consumers/. */
const HANDLER = `import { existsSync } from 'node:fs';
import { defineHandler, PermanentJobError, type JobHandler } from 'warren';
import type { SummarizePayload } from './schemas/summarize.ts';

const summarize: JobHandler<SummarizePayload, { summary: string | null; attempt: number }> = async (job, ctx) => {
  if (job.payload.text.startsWith('poison') && existsSync(new URL('../blocked', import.meta.url))) {
    throw new PermanentJobError('blocked by the test');
  }
  const res = await ctx.llm.chatCompletion({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: job.payload.text }] });
  return { summary: res.choices[0]?.message.content ?? null, attempt: job.attempt };
};

export default defineHandler(summarize);
`;

/** A handler with a type error: the project's type-check must reject it. */
const BAD_HANDLER = `import { defineHandler } from 'warren';
import type { SummarizePayload } from './schemas/summarize.ts';
export default defineHandler<SummarizePayload, string>(async (job) => job.payload.nosuchfield);
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface JobView {
  status: string;
  attempts?: { status: string }[];
  result?: { summary?: string; attempt?: number };
}

describe('the packed warren package in a fresh project', () => {
  let vh: TestVhost;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let warren: ChildProcess | undefined;
  let api = '';
  const bin = () => join(dir, 'node_modules', 'warren', 'bin', 'warren.js');
  const cli = (args: string[]) => run(process.execPath, [bin(), ...args], { cwd: dir, env, timeout: 60_000 });

  beforeAll(async () => {
    vh = await createTestVhost('pkg');
    dir = mkdtempSync(join(tmpdir(), 'warren-pkg-'));
    // prepack builds dist/ when stale (scripts/build.sh); the integration setup has built it already.
    await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, timeout: 120_000 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no tarball');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-llm-jobs', private: true, type: 'module' }));
    // From the registry through the local npm cache (warm after the repo's own install): tsx runs the
    // .ts handler, @types/node for the project's type-check (the repo's own tsc is used).
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `./${tarball}`, 'tsx@^4', '@types/node@^20'], {
      cwd: dir,
      timeout: 240_000,
    });
    const llmPort = await freePort();
    env = {
      ...process.env,
      ...Object.fromEntries(Object.entries(IMAGE.env).map(([k, v]) => [k, v.replace(/^\/app\b/, dir)])),
      NO_COLOR: '1',
      WARREN_AMQP_URL: vh.amqpUrl,
      WARREN_MANAGEMENT_URL: vh.managementUrl,
      WARREN_VHOST: vh.vhost,
      WARREN_AUTH: 'none',
      WARREN_API_HOST: '127.0.0.1',
      WARREN_API_PORT: String(await freePort()),
      WARREN_METRICS_PORT: String(await freePort()),
      OPENAI_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
      XDG_STATE_HOME: join(dir, '.state'),
    };
    delete env.OPENAI_API_KEY;
  }, 300_000);

  afterAll(async () => {
    if (warren && warren.exitCode === null) warren.kill('SIGKILL');
    await vh?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scaffolds with warren init and type-checks the project against the package types', async () => {
    const init = await cli(['init']);
    for (const f of ['topology.yaml', 'consumers/summarize.ts', 'consumers/schemas/summarize.ts', 'docker-compose.yml', 'Dockerfile', 'WARREN.md']) {
      expect(init.stdout).toContain(`wrote ${f}`);
    }
    expect(init.stdout).not.toContain('wrote package.json'); // the project's own is kept
    // A handler reading a field its payload type lacks fails the type-check; the scaffold's own files don't.
    writeFileSync(join(dir, 'consumers', 'bad.ts'), BAD_HANDLER);
    const bad = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir }).then(() => '', (err: { stdout?: string }) => err.stdout ?? 'failed');
    expect(bad).toMatch(/^consumers\/bad\.ts\(3,[^\n]*nosuchfield/m);
    expect(bad.trim().split('\n')).toHaveLength(1);
    unlinkSync(join(dir, 'consumers', 'bad.ts'));
    // The test's handler (below) type-checks against the package's declarations (the scaffold's tsconfig skips
    // checking the libraries' own .d.ts, as most projects do; with it off the package's declarations also pass,
    // at 30 s more: checked by hand, not here).
    writeFileSync(join(dir, 'consumers', 'summarize.ts'), HANDLER);
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir });
  }, 120_000);

  it('runs the image command (warren start all) from the project: healthcheck passes, a job succeeds, another goes to the DLQ and back with warren dlq requeue, SIGTERM exits 0', async () => {
    writeFileSync(join(dir, 'blocked'), '');
    // Exactly the image's command (ENTRYPOINT + CMD), from the folder the tarball was installed into.
    expect(IMAGE.command).toEqual(['node', 'node_modules/warren/bin/warren.js', 'start', 'all']);
    const [node, ...argv] = inFolder(IMAGE.command, dir);
    const child = spawn(node as string, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    warren = child;
    let log = '';
    child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    api = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`warren did not start:\n${log}`)), 60_000);
      child.stdout?.on('data', (b: Buffer) => {
        log += b.toString();
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)","routes"/.exec(log);
        if (m?.[1] && log.includes('workers consuming')) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`warren exited with ${code}:\n${log}`)));
    });

    // The image's HEALTHCHECK passes against it.
    const [hcNode, ...hcArgv] = inFolder(IMAGE.healthcheck, dir);
    await run(hcNode as string, hcArgv, { cwd: dir, env, timeout: 10_000 });

    const submit = async (text: string) => {
      const res = await fetch(`${api}/v1/jobs/summarize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const waitFor = async (id: string, status: string, attempts: number): Promise<JobView> => {
      const until = Date.now() + 30_000;
      let view: JobView = { status: 'unknown' };
      while (Date.now() < until) {
        view = (await (await fetch(`${api}/v1/jobs/${id}`)).json()) as JobView;
        if (view.status === status && (view.attempts?.length ?? 0) >= attempts) return view;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`job ${id} is ${JSON.stringify(view)}, expected ${status}`);
    };

    const good = await submit('RabbitMQ is a message broker.');
    expect((await waitFor(good, 'succeeded', 1)).result?.summary).toContain('RabbitMQ is a message broker.');

    const poison = await submit('poison pill');
    await waitFor(poison, 'dead-lettered', 1);
    const listed = JSON.parse((await cli(['--json', 'dlq', 'list', 'jobs.dead'])).stdout) as unknown;
    expect(JSON.stringify(listed)).toContain(poison);

    unlinkSync(join(dir, 'blocked'));
    const requeue = await cli(['dlq', 'requeue', 'jobs.dead', '--id', poison, '--yes', '--no-progress']);
    expect(requeue.stdout + requeue.stderr).toMatch(/moved 1 \/ skipped 0 \/ failed 0/);
    // Requeued from the DLQ (attempt count reset to 1, as `warren dlq requeue` does), it now succeeds.
    const back = await waitFor(poison, 'succeeded', 1);
    expect(back.result?.summary).toContain('poison pill');

    // SIGTERM (what `docker stop` sends): a clean exit within the shutdown deadline.
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // And the health check now fails: nothing answers.
    await expect(run(hcNode as string, hcArgv, { cwd: dir, env, timeout: 10_000 })).rejects.toThrow();
  }, 120_000);
});
