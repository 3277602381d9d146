import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import type { ActualState } from '../topology/actual-state.ts';
import { desiredState, MANAGED_ARG } from '../topology/desired-state.ts';
import { createFakeManagement, type FakeManagement } from '../topology/fake-management.test-support.ts';
import { captureIo, removeTempProjects, tempProject } from './cli-test-io.test-support.ts';
import { runCli } from './program.ts';

const YAML = `version: 1
connection:
  vhost: app
exchanges:
  jobs: { type: direct }
queues:
  work: { messageTtl: 1m }
bindings:
  - { source: jobs, queue: work, routingKey: work }
routes:
  task: { exchange: jobs, routingKey: work, schema: task }
consumers:
  workers: { queue: work, handler: echo }
`;

const dir = tempProject({ 'topology.yaml': YAML, 'consumers/echo.ts': 'export default async () => ({})\n' });
const file = join(dir, 'topology.yaml');
const desired = desiredState(topologySchema.parse({ version: 1, connection: { vhost: 'app' }, exchanges: { jobs: { type: 'direct' } }, queues: { work: { messageTtl: 60_000 } }, bindings: [{ source: 'jobs', queue: 'work', routingKey: 'work' }] }));

function applied(): ActualState {
  return {
    vhost: 'app',
    vhostExists: true,
    exchanges: desired.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
    queues: desired.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments, messages: 0 })),
    bindings: desired.bindings.map((b, i) => ({ ...b, propertiesKey: `k${i}` })),
    policies: desired.policies.map((p) => ({ name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: p.definition })),
  };
}

async function run(args: string[], management: FakeManagement, io = captureIo()) {
  const code = await runCli(['-f', file, ...args], { io, env: {}, management: () => management });
  return { code, out: io.out(), err: io.err() };
}

afterAll(removeTempProjects);

describe('warren topology plan', () => {
  it('prints the diff and exits 2 when changes are pending', async () => {
    const { code, out, err } = await run(['topology', 'plan'], createFakeManagement());
    expect(err).toBe('');
    expect(code).toBe(2);
    expect(out).toBe(
      [
        `Plan for vhost 'app' on http://guest:***@fake:15672 from ${file}:`,
        '  + vhost app',
        '  + exchange jobs  (direct)',
        '  + exchange warren.events  (fanout)',
        '  + policy warren.q.work  message-ttl=60000',
        '  + policy warren.q.warren.events.log  max-age=604800s, max-length-bytes=20000000000',
        '  + policy warren.q.warren.events.checkpoints  max-age=604800s, max-length-bytes=200000000',
        '  + queue work  (classic)',
        '  + queue warren.events.log  (stream, job events)',
        '  + queue warren.events.checkpoints  (stream, job-history checkpoints)',
        '  + binding warren.events -> queue warren.events.log',
        '  + binding jobs -> queue work [work]',
        '',
        'Plan: 11 to create, 0 to update in place.',
        '',
      ].join('\n'),
    );
  });

  it('exits 0 when the broker matches, and counts extras only with --prune', async () => {
    expect((await run(['topology', 'plan'], createFakeManagement({ state: applied() }))).code).toBe(0);
    const state = applied();
    state.bindings.push({ source: 'jobs', destination: 'work', destinationType: 'queue', routingKey: 'old', arguments: { [MANAGED_ARG]: true }, propertiesKey: 'old' });
    const plain = await run(['topology', 'plan'], createFakeManagement({ state }));
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('  - binding jobs -> queue work [old]  (not in the file; apply --prune deletes it)');
    expect((await run(['topology', 'plan', '--prune'], createFakeManagement({ state }))).code).toBe(2);
  });

  it('exits 3 when something cannot change in place', async () => {
    const state = applied();
    const work = state.queues.find((q) => q.name === 'work');
    if (!work) throw new Error('fixture');
    work.type = 'quorum';
    const { code, out } = await run(['topology', 'plan'], createFakeManagement({ state }));
    expect(code).toBe(3);
    expect(out).toContain(`queue 'work' is quorum on the broker but classic in ${file}; RabbitMQ can't change a queue's type.`);
  });

  it('--json prints one document with every step', async () => {
    const { code, out } = await run(['topology', 'plan', '--json'], createFakeManagement({ state: { ...applied(), policies: applied().policies.filter((p) => p.name !== 'warren.q.work') } }));
    expect(code).toBe(2);
    const doc = JSON.parse(out) as Record<string, unknown>;
    expect(doc).toMatchObject({
      vhost: 'app',
      file,
      management: 'http://guest:***@fake:15672',
      inSync: false,
      summary: { create: 1, update: 0, cannotChange: 0, extra: 0 },
      steps: [{ description: "create policy 'warren.q.work'", kind: 'create', object: 'policy', name: 'warren.q.work', policy: { definition: { 'message-ttl': 60000 } } }],
      warnings: [],
    });
  });
});

describe('warren topology apply', () => {
  it('applies and reports', async () => {
    const m = createFakeManagement({ state: { ...applied(), policies: applied().policies.filter((p) => p.name !== 'warren.q.work') } });
    const { code, out } = await run(['topology', 'apply'], m);
    expect(code).toBe(0);
    expect(m.writes.map((w) => `${w.method} ${w.path}`)).toEqual(['PUT /policies/app/warren.q.work']);
    expect(out).toMatch(/Applied 1 change to vhost 'app' in \d+\.\d s\.\n$/);
  });

  it('says there is nothing to do on an applied topology', async () => {
    const m = createFakeManagement({ state: applied() });
    const { code, out } = await run(['topology', 'apply'], m);
    expect(code).toBe(0);
    expect(m.writes).toEqual([]);
    expect(out).toContain(`Nothing to apply: vhost 'app' already matches ${file}.`);
  });

  it('--dry-run applies nothing and exits like plan', async () => {
    const m = createFakeManagement();
    const { code, out } = await run(['topology', 'apply', '--dry-run'], m);
    expect(code).toBe(2);
    expect(m.writes).toEqual([]);
    expect(out).toContain('Dry run: nothing applied.');
  });

  it('refuses drift with exit 3, the message on stderr, and no writes', async () => {
    const state = applied();
    state.policies = [];
    const work = state.queues.find((q) => q.name === 'work');
    if (!work) throw new Error('fixture');
    work.durable = false;
    const m = createFakeManagement({ state });
    const { code, err } = await run(['topology', 'apply'], m);
    expect(code).toBe(3);
    expect(m.writes).toEqual([]);
    expect(err).toBe(
      "error: topology can't be applied to vhost 'app': 1 object differs in a way RabbitMQ can't change in place. Nothing was applied.\n" +
        `  ! queue 'work' is not durable on the broker but durable in ${file}; RabbitMQ can't change a queue's durability. Drain it and delete it (rabbitmqctl delete_queue -p app work / the UI), or rename the queue in ${file}, then apply again.\n`,
    );
  });

  describe('--prune-queues', () => {
    function withOldQueue(): ActualState {
      const state = applied();
      state.queues.push({ name: 'old', type: 'classic', durable: true, autoDelete: false, arguments: { [MANAGED_ARG]: true }, messages: 4 });
      state.bindings.push({ source: 'jobs', destination: 'old', destinationType: 'queue', routingKey: 'old', arguments: { [MANAGED_ARG]: true }, propertiesKey: 'old' });
      return state;
    }

    it('refuses without a terminal and without --yes', async () => {
      const m = createFakeManagement({ state: withOldQueue() });
      const { code, err } = await run(['topology', 'apply', '--prune-queues'], m);
      expect(code).toBe(1);
      expect(m.writes).toEqual([]);
      expect(err).toBe(
        "error: apply --prune-queues would delete queue 'old' (4 messages) from vhost 'app', with any messages in them. There is no terminal to confirm on: run again with --yes to confirm. Nothing was applied.\n",
      );
    });

    it('asks on a terminal and stops on no', async () => {
      const m = createFakeManagement({ state: withOldQueue() });
      const { code, err } = await run(['topology', 'apply', '--prune-queues'], m, captureIo({ answer: false }));
      expect(code).toBe(1);
      expect(err).toBe('Aborted: nothing was applied.\n');
      expect(m.writes).toEqual([]);
    });

    it('deletes binding then queue on yes or --yes; --prune alone keeps the queue', async () => {
      const asked = createFakeManagement({ state: withOldQueue() });
      expect((await run(['topology', 'apply', '--prune-queues'], asked, captureIo({ answer: true }))).code).toBe(0);
      expect(asked.writes.map((w) => `${w.method} ${w.path}`)).toEqual(['DELETE /bindings/app/e/jobs/q/old/old', 'DELETE /queues/app/old']);

      const yes = createFakeManagement({ state: withOldQueue() });
      expect((await run(['topology', 'apply', '--prune-queues', '--yes'], yes)).code).toBe(0);
      expect(yes.writes).toEqual(asked.writes);

      const prune = createFakeManagement({ state: withOldQueue() });
      const { out } = await run(['topology', 'apply', '--prune'], prune);
      expect(prune.writes.map((w) => `${w.method} ${w.path}`)).toEqual(['DELETE /bindings/app/e/jobs/q/old/old']);
      expect(out).toContain("Kept 1 extra object warren created earlier (see '-' lines; --prune / --prune-queues delete them).");
    });
  });

  it('rejects a bad --concurrency before writing', async () => {
    const m = createFakeManagement();
    const { code, err } = await run(['topology', 'apply', '--concurrency', 'lots'], m);
    expect(code).toBe(1);
    expect(err).toBe("error: --concurrency must be an integer from 1 to 64 (got 'lots')\n");
    expect(m.writes).toEqual([]);
  });
});

describe('warren topology validate', () => {
  it('checks the file, handlers and schema names without a broker', async () => {
    const m = createFakeManagement({ failAll: () => new Error('validate must not call the broker') });
    const { code, out } = await run(['topology', 'validate'], m);
    expect(code).toBe(0);
    expect(out).toBe(`${file} is valid: 1 exchanges, 1 queues (+0 retry wait queues), 1 bindings, 0 retry policies, 1 routes, 1 consumers.\n`);
  });

  it('reports every problem with file:line:col', async () => {
    const bad = tempProject({ 't.yaml': YAML.replace('handler: echo', 'handler: nope').replace('schema: task', 'schema: chat').replace('messageTtl: 1m', 'messageTtl: 1m, colour: red') });
    const io = captureIo();
    const code = await runCli(['-f', join(bad, 't.yaml'), 'topology', 'validate'], { io, env: {} });
    expect(code).toBe(1);
    expect(io.err()).toBe(
      [
        'error: topology is invalid:',
        `  - ${join(bad, 't.yaml')}:7:27: queues.work.colour: unknown key 'colour'`,
        '',
      ].join('\n'),
    );
    const fixed = tempProject({ 't.yaml': YAML.replace('handler: echo', 'handler: nope').replace('schema: task', 'schema: chat') });
    const io2 = captureIo();
    expect(await runCli(['-f', join(fixed, 't.yaml'), 'topology', 'validate', '--json'], { io: io2, env: {} })).toBe(1);
    const doc = JSON.parse(io2.out()) as { error: { code: string; details: { path: string; line: number; column: number; message: string }[] } };
    expect(doc.error.code).toBe('TOPOLOGY_INVALID');
    expect(doc.error.details.map((d) => `${d.line}:${d.column} ${d.path}: ${d.message}`)).toEqual([
      "11:53 routes.task.schema: route 'task' uses unknown payload schema 'chat' (known: chat-completion, task)",
      "13:36 consumers.workers.handler: consumer 'workers' names handler 'nope' but no file consumers/nope.ts (or .js) exists",
    ]);
  });
});

describe('warren topology export', () => {
  it('prints definitions JSON, or writes them with --out', async () => {
    const m = createFakeManagement({ failAll: () => new Error('export must not call the broker') });
    const { code, out } = await run(['topology', 'export'], m);
    expect(code).toBe(0);
    const defs = JSON.parse(out) as { vhosts: unknown[]; queues: { name: string }[]; policies: { name: string }[] };
    expect(defs.vhosts).toEqual([{ name: 'app' }]);
    expect(defs.queues.map((q) => q.name)).toEqual(['work', 'warren.events.log', 'warren.events.checkpoints']);
    expect(defs.policies.map((p) => p.name)).toEqual(['warren.q.work', 'warren.q.warren.events.log', 'warren.q.warren.events.checkpoints']);

    const target = join(dir, 'defs.json');
    const written = await run(['topology', 'export', '--out', target], m);
    expect(written.code).toBe(0);
    expect(JSON.parse(readFileSync(target, 'utf8'))).toEqual(defs);
    expect(written.out).toContain(`Load them with: rabbitmqctl import_definitions ${target}`);
    const json = await run(['topology', 'export', '--out', target, '--json'], m);
    expect(JSON.parse(json.out)).toEqual({ file: target, vhost: 'app', exchanges: 2, queues: 3, bindings: 2, policies: 3 });
  });
});
