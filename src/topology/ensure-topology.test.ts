import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import type { ActualState } from './actual-state.ts';
import { desiredState, MANAGED_ARG } from './desired-state.ts';
import { ensureTopology } from './ensure-topology.ts';
import { createFakeManagement } from './fake-management.test-support.ts';

const topology = topologySchema.parse({ version: 1, connection: { vhost: 'app' }, exchanges: { jobs: { type: 'direct' } }, queues: { work: { messageTtl: '1m' } } });
const desired = desiredState(topology);

function appliedState(): ActualState {
  return {
    vhost: 'app',
    vhostExists: true,
    exchanges: desired.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
    queues: desired.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments, messages: 0 })),
    bindings: desired.bindings.map((b, i) => ({ ...b, propertiesKey: String(i) })),
    policies: desired.policies.map((p) => ({ name: p.name, pattern: p.pattern, applyTo: p.applyTo, priority: p.priority, definition: p.definition })),
  };
}

function recordingLogger() {
  const lines: string[] = [];
  return { lines, info: (_o: object, msg: string) => void lines.push(`info ${msg}`), warn: (_o: object, msg: string) => void lines.push(`warn ${msg}`) };
}

describe('ensureTopology', () => {
  it('applies what is missing and logs it', async () => {
    const state = appliedState();
    state.policies = [];
    const m = createFakeManagement({ state });
    const logger = recordingLogger();
    const result = await ensureTopology(topology, m, logger);
    // The work queue's policy, and the retention policies of warren's two streams.
    expect(m.writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      'PUT /policies/app/warren.q.work',
      'PUT /policies/app/warren.q.warren.events.log',
      'PUT /policies/app/warren.q.warren.events.checkpoints',
    ]);
    expect(result.applied.writes).toBe(3);
    expect(logger.lines).toEqual(['info topology applied: 3 change(s) made on the broker']);
  });

  it('never prunes, but says what is left over', async () => {
    const state = appliedState();
    state.queues.push({ name: 'old', type: 'classic', durable: true, autoDelete: false, arguments: { [MANAGED_ARG]: true }, messages: 0 });
    const m = createFakeManagement({ state });
    const logger = recordingLogger();
    await ensureTopology(topology, m, logger);
    expect(m.writes).toEqual([]);
    expect(logger.lines).toEqual(["info 1 warren object(s) on the broker are no longer in the topology; 'warren topology apply --prune' removes them"]);
  });

  it('refuses drift with TOPOLOGY_DRIFT and writes nothing', async () => {
    const state = appliedState();
    state.policies = [];
    const work = state.queues.find((q) => q.name === 'work');
    if (!work) throw new Error('fixture');
    work.durable = false;
    const m = createFakeManagement({ state });
    await expect(ensureTopology(topology, m)).rejects.toMatchObject({ name: 'TopologyDriftError', code: 'TOPOLOGY_DRIFT' });
    expect(m.writes).toEqual([]);
  });

  it('logs warnings about outranking operator policies', async () => {
    const state = appliedState();
    state.policies.push({ name: 'ops', pattern: '.*', applyTo: 'queues', priority: 100, definition: {} });
    const logger = recordingLogger();
    await ensureTopology(topology, createFakeManagement({ state }), logger);
    // One warning per queue whose warren policy it ties with: the work queue and warren's two streams.
    expect(logger.lines).toHaveLength(3);
    expect(logger.lines[0]).toMatch(/^warn policy 'ops' \(priority 100\) also matches queue 'work'/);
    expect(logger.lines[1]).toMatch(/^warn policy 'ops' \(priority 100\) also matches queue 'warren\.events\.log'/);
    expect(logger.lines[2]).toMatch(/^warn policy 'ops' \(priority 100\) also matches queue 'warren\.events\.checkpoints'/);
  });
});
