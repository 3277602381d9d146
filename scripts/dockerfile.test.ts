import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INIT_FILES } from '../src/cli/init-templates.ts';
import { ENV_SETTINGS } from '../src/config/env-settings.ts';
import { execForm, parseDockerfile, type DockerStage } from './dockerfile.ts';

// No Docker daemon and no hadolint here (hadolint ships through PyPI/GitHub, neither reachable):
// the Dockerfile's promises are checked structurally; test/integration/package-install.int.test.ts
// runs the image's ENTRYPOINT + CMD and HEALTHCHECK from a packed tarball installed into a clean folder.
const ROOT = resolve(import.meta.dirname, '..');
const stages = parseDockerfile(resolve(ROOT, 'Dockerfile'));
const final = stages.at(-1) as DockerStage;
const all = (stage: DockerStage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: DockerStage, keyword: string) => {
  const found = all(stage, keyword);
  expect(found, `${keyword} in the final stage`).toHaveLength(1);
  return found[0]!;
};

describe('Dockerfile', () => {
  it('is multi-stage: builds and packs in one stage, installs the tarball in another, runs from a clean third', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(stages.every((s) => /^node:20(-|$)/.test(s.from))).toBe(true);
    const build = stages.find((s) => all(s, 'RUN').some((r) => r.args.includes('npm pack')));
    const install = stages.find((s) => all(s, 'RUN').some((r) => /npm install --omit=dev[^&]*warren\.tgz/.test(r.args)));
    expect(build?.name).toBeDefined();
    expect(install?.name).toBeDefined();
    // The runtime stage copies only the installed folder: no sources, compiler, npm cache or baked-in topology.
    expect(all(final, 'RUN')).toHaveLength(0);
    expect(all(final, 'COPY').map((c) => c.args)).toEqual([`--from=${install?.name} /app /app`]);
  });

  it('copies only paths that exist in the repo into the build stage, and keeps local state out of the context', () => {
    for (const stage of stages) {
      for (const copy of all(stage, 'COPY').filter((c) => !c.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const src of sources) expect(existsSync(resolve(ROOT, src)), `COPY ${src} (line ${copy.line})`).toBe(true);
      }
    }
    const ignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.env', '.git']) expect(ignore).toContain(entry);
  });

  it('runs as a non-root user, with an exec-form entrypoint of the installed bin and SIGTERM as stop signal', () => {
    const user = one(final, 'USER').args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const order = final.instructions.map((i) => i.keyword);
    expect(order.indexOf('USER')).toBeLessThan(order.indexOf('ENTRYPOINT'));
    expect(execForm(one(final, 'ENTRYPOINT').args)).toEqual(['node', 'node_modules/warren/bin/warren.js']);
    expect(execForm(one(final, 'CMD').args)).toEqual(['start', 'all']);
    expect(one(final, 'STOPSIGNAL').args).toBe('SIGTERM');
    expect(one(final, 'WORKDIR').args).toBe('/app');
  });

  it('has a HEALTHCHECK that runs a script the package ships', () => {
    const hc = one(final, 'HEALTHCHECK').args;
    const cmd = execForm(hc.slice(hc.indexOf('CMD') + 3).trim());
    expect(cmd).toEqual(['node', 'node_modules/warren/bin/healthcheck.js']);
    expect(existsSync(resolve(ROOT, 'bin/healthcheck.js'))).toBe(true);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('bin');
  });

  it('sets only declared warren settings in ENV, and no secret (configuration comes from the environment at run time)', () => {
    const declared = new Set(Object.values(ENV_SETTINGS).map((s) => s.env));
    const secrets = new Set(Object.values(ENV_SETTINGS).filter((s) => 'secret' in s && s.secret === true).map((s) => s.env));
    const names = all(final, 'ENV').flatMap((e) => [...e.args.matchAll(/(\w+)=/g)].map((m) => m[1] as string));
    expect(names).toContain('WARREN_TOPOLOGY');
    for (const name of names.filter((n) => n !== 'NODE_ENV')) {
      expect(declared.has(name), `${name} is declared in src/config/env-settings.ts`).toBe(true);
      expect(secrets.has(name), `${name} is a secret`).toBe(false);
    }
    expect(all(final, 'ENV').map((e) => e.args).join(' ')).toContain('WARREN_TOPOLOGY=/app/topology.yaml');
  });

  it.each([
    ['docker-compose.yml', '.', './'],
    ['deploy/cluster/docker-compose.cluster.yml', '../..', '../../'],
  ])('%s runs the image with the checkout topology and handlers mounted where the image reads them', (file, context, up) => {
    const compose = parse(readFileSync(resolve(ROOT, file), 'utf8'), { merge: true }) as { services: Record<string, { volumes?: string[]; entrypoint?: string[]; build?: string }> };
    const built = Object.entries(compose.services).filter(([, s]) => s.build === context);
    expect(built.length).toBeGreaterThan(0);
    for (const [name, s] of built) {
      expect(s.volumes, name).toContain(`${up}topology.yaml:/app/topology.yaml:ro`);
      expect(s.volumes, name).toContain(`${up}consumers:/app/consumers:ro`);
      if (s.entrypoint) expect(existsSync(resolve(ROOT, s.entrypoint[1]!.replace('node_modules/warren/', ''))), `${name} entrypoint`).toBe(true);
    }
  });

  it('the Dockerfile `warren init` writes for a user project: multi-stage, non-root, health check, exec-form start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-init-dockerfile-'));
    try {
      const file = join(dir, 'Dockerfile');
      writeFileSync(file, INIT_FILES.find((f) => f.path === 'Dockerfile')?.content ?? '');
      const user = parseDockerfile(file);
      const last = user.at(-1) as DockerStage;
      expect(user.length).toBeGreaterThanOrEqual(2);
      expect(last.instructions.find((i) => i.keyword === 'USER')?.args).toBe('node');
      const hc = last.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
      expect(execForm(hc.slice(hc.indexOf('CMD') + 3).trim())).toEqual(['node', 'node_modules/warren/bin/healthcheck.js']);
      expect(execForm(last.instructions.find((i) => i.keyword === 'CMD')?.args ?? '')).toEqual(['node', 'node_modules/warren/bin/warren.js', 'start', 'all']);
      // The scaffold copies what `warren init` writes (topology.yaml, consumers/), nothing it doesn't.
      const copied = last.instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
      for (const src of copied.filter((c) => c !== 'package.json')) expect(INIT_FILES.some((f) => f.path === src || f.path.startsWith(`${src}/`)), src).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
