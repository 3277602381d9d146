import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTopology } from '../config/load-topology.ts';
import { captureIo } from './cli-test-io.test-support.ts';
import { INIT_FILES } from './init-templates.ts';
import { runCli } from './program.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'warren-init-'));
  dirs.push(d);
  return d;
};

describe('warren init', () => {
  it('scaffolds a project whose topology.yaml is valid and whose handler and schema it finds', async () => {
    const dir = join(tempDir(), 'my-jobs');
    const io = captureIo();
    expect(await runCli(['init', dir], { io, env: {} })).toBe(0);
    for (const f of INIT_FILES) expect(existsSync(join(dir, f.path)), f.path).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; type: string };
    expect(pkg).toMatchObject({ name: 'my-jobs', type: 'module' });
    // checkHandlers: the consumer's handler and the route's schema resolve in consumers/ beside the file.
    const loaded = loadTopology(join(dir, 'topology.yaml'), { env: {} });
    expect(Object.keys(loaded.topology.routes)).toEqual(['summarize']);
    expect(loaded.consumersDir).toBe(join(dir, 'consumers'));
    expect(io.out()).toContain('npm install warren tsx');
  });

  it('keeps an existing package.json and refuses to overwrite files without --force', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), '{"name":"mine"}');
    writeFileSync(join(dir, 'topology.yaml'), 'version: 1\n# mine\n');
    const io = captureIo();
    expect(await runCli(['init', dir], { io, env: {} })).not.toBe(0);
    expect(io.err()).toMatch(/already has topology\.yaml; nothing written \(--force overwrites them\)/);
    expect(readFileSync(join(dir, 'topology.yaml'), 'utf8')).toContain('# mine');
    expect(existsSync(join(dir, 'consumers'))).toBe(false);
    expect(await runCli(['init', dir, '--force'], { io: captureIo(), env: {} })).toBe(0);
    expect(readFileSync(join(dir, 'topology.yaml'), 'utf8')).toContain('routes:');
    expect(readFileSync(join(dir, 'package.json'), 'utf8')).toBe('{"name":"mine"}');
  });
});
