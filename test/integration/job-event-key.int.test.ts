import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../../src/api/start-api.ts';
import { createManagementClient, seg } from '../../src/broker/management-client.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { LoadedTopology } from '../../src/config/load-topology.ts';
import type { Topology } from '../../src/config/topology-schema.ts';
import { deleteVhostWithEventKey, eventKeyParameterName, loadJobEventKeyring } from '../../src/jobs/job-event-key.ts';
import { createSilentLogger } from '../../src/observability/logger.ts';
import { startWorker } from '../../src/worker/start-worker.ts';
import { eventually } from './helpers/api-fixture.ts';
import { TEST_AMQP_BASE, TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { createWorkerHarness, echoTaskTopology, type WorkerHarness } from './helpers/worker-harness.ts';

/** The test URL with other credentials. */
function withUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString().replace(/\/$/, '');
}

/**
 * Where the job-event key comes from, on the real broker: created once in a
 * global parameter however many processes start together, shared by processes
 * that connect as different broker users, and refused loudly to a process
 * that can read neither it nor WARREN_EVENT_KEY.
 */
describe('the job-event key (real broker)', () => {
  let h: WorkerHarness;
  const logger = createSilentLogger();
  // Users this file creates on the shared broker (deleted afterwards): AMQP access to the vhost only, no management tags.
  const users = ['api', 'worker'].map((role) => ({ name: `warren-test-${role}-${randomUUID().slice(0, 8)}`, password: randomUUID() }));

  beforeAll(async () => {
    h = await createWorkerHarness('event-key', echoTaskTopology());
    for (const u of users) {
      await h.vh.management.put(`/users/${seg(u.name)}`, { password: u.password, tags: '' });
      await h.vh.management.put(`/permissions/${seg(h.vh.vhost)}/${seg(u.name)}`, { configure: '.*', write: '.*', read: '.*' });
    }
  });

  afterAll(async () => {
    for (const u of users) await h?.vh.management.delete(`/users/${seg(u.name)}`, { ignoreNotFound: true });
    await h?.close();
  });

  it('deleteVhostWithEventKey removes the vhost and the broker-wide parameter holding its key, which deleting the vhost alone leaves behind', async () => {
    const vhost = `${h.vh.vhost}-gone`;
    await h.vh.management.put(`/vhosts/${seg(vhost)}`, {});
    await loadJobEventKeyring({ vhost, management: h.vh.management, logger });
    const parameter = `/global-parameters/${seg(eventKeyParameterName(vhost))}`;
    await expect(h.vh.management.get(parameter)).resolves.toBeDefined();
    await deleteVhostWithEventKey(h.vh.management, vhost);
    await expect(h.vh.management.get(`/vhosts/${seg(vhost)}`)).rejects.toMatchObject({ status: 404 });
    await expect(h.vh.management.get(parameter)).rejects.toMatchObject({ status: 404 });
    // Both already gone: nothing to do, no error.
    await deleteVhostWithEventKey(h.vh.management, vhost);
  });

  it('eight processes starting at once on a vhost without a key all end up with the one key stored in the broker', async () => {
    // A vhost-like name of its own, so this test creates the key itself (the harness's may exist already).
    const vhost = `${h.vh.vhost}-race`;
    const name = eventKeyParameterName(vhost);
    const connections = await Promise.all(Array.from({ length: 8 }, () => amqplib.connect(h.vh.amqpUrl)));
    try {
      const rings = await Promise.all(
        connections.map((connection) => loadJobEventKeyring({ vhost, management: createManagementClient({ url: TEST_MANAGEMENT_URL }), connection, logger, parameterName: name })),
      );
      expect(new Set(rings.map((r) => r.keyId)).size).toBe(1);
      const stored = await h.vh.management.get<{ value: { key: string } }>(`/global-parameters/${seg(name)}`);
      expect(Buffer.from(stored.value.key, 'base64')).toHaveLength(32);
      // A process starting later reads the same key.
      const later = await loadJobEventKeyring({ vhost, management: createManagementClient({ url: TEST_MANAGEMENT_URL }), logger, parameterName: name });
      expect(later.keyId).toBe(rings[0]!.keyId);
    } finally {
      await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
      await h.vh.management.delete(`/global-parameters/${seg(name)}`, { ignoreNotFound: true });
    }
  });

  it('an API and a worker connecting as different broker users agree on the key: the worker\'s statuses reach the API', async () => {
    const as = (u: { name: string; password: string }): Topology => ({ ...h.topology, connection: { ...h.topology.connection, urls: [withUser(TEST_AMQP_BASE, u.name, u.password)] } });
    const [apiUser, workerUser] = users as [(typeof users)[0], (typeof users)[0]];
    const api = await startApi({ topology: as(apiUser), port: 0, apiKeys: 'k-0123456789abcdef:task', logger, processMetrics: false });
    const loaded: LoadedTopology = { ...h.loaded, topology: as(workerUser) };
    const worker = await startWorker({ topology: loaded, logger });
    try {
      await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 20_000);
      const connectedAs = await eventually(async () => {
        const conns = await h.vh.management.get<{ user: string }[]>(`/vhosts/${seg(h.vh.vhost)}/connections`);
        const names = new Set(conns.map((c) => c.user));
        return names.has(apiUser.name) && names.has(workerUser.name) ? names : undefined;
      });
      expect(connectedAs.has(apiUser.name) && connectedAs.has(workerUser.name)).toBe(true);
      const res = await fetch(`${api.url}/v1/jobs/task?wait=15s`, {
        method: 'POST',
        headers: { authorization: 'Bearer k-0123456789abcdef', 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'echo', input: { users: 'differ' } }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'succeeded', result: { echo: { users: 'differ' } } });
    } finally {
      await worker.close(1_000);
      await api.close();
    }
  });

  it('a process whose management user may not read the key, and that has no WARREN_EVENT_KEY, refuses to start; with it, it starts', async () => {
    const [, workerUser] = users as [(typeof users)[0], (typeof users)[0]];
    const noTags = withUser(TEST_MANAGEMENT_URL, workerUser.name, workerUser.password);
    const loaded: LoadedTopology = { ...h.loaded, topology: { ...h.topology, connection: { ...h.topology.connection, management: noTags } } };
    await expect(startWorker({ topology: loaded, logger })).rejects.toMatchObject({ code: 'EVENT_KEY_UNAVAILABLE', message: expect.stringContaining('WARREN_EVENT_KEY') });
    const worker = await startWorker({ topology: loaded, logger, config: loadConfig({ WARREN_EVENT_KEY: 'an-operator-given-secret-0123456789' }) });
    await worker.close(1_000);
  });
});
