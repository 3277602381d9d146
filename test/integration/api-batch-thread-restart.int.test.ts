import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { defaultConfig } from '../../src/config/load-config.ts';
import { loadTopology } from '../../src/config/load-topology.ts';
import { ensureTopology } from '../../src/topology/ensure-topology.ts';
import { eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_MANAGEMENT_URL } from './helpers/broker-env.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

const KEY = 'batch-restart-key-0123456789';
const FIXTURE = join(import.meta.dirname, 'fixtures', 'batch-thread-crash', 'consumers');

/**
 * The API's batch thread dies in the middle of a batch (a payload schema module ends it): that batch is
 * answered 503 (it may or may not be stored: the thread held it), a batch sent while the thread is down
 * is answered at once instead of waiting for a thread that is gone, and the thread comes back by itself.
 */
describe('the API batch thread dying mid-batch (real broker)', () => {
  let vh: TestVhost;
  let dir: string;
  let api: RunningApi;
  let admin: amqplib.ChannelModel;

  const postBatch = async (texts: string[]) => {
    const res = await fetch(`${api.url}/v1/jobs/crashy/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(texts.map((text) => ({ text }))),
      // A batch that nobody answers fails the test here rather than at the test's timeout.
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: (await res.json()) as { accepted?: number; error?: { code?: string } } };
  };

  beforeAll(async () => {
    vh = await createTestVhost('batch-restart');
    dir = mkdtempSync(join(tmpdir(), 'warren-batch-restart-'));
    symlinkSync(FIXTURE, join(dir, 'consumers'), 'dir');
    const file = join(dir, 'topology.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        connection: { urls: [vh.amqpUrl], management: TEST_MANAGEMENT_URL, vhost: vh.vhost },
        exchanges: { work: { type: 'direct' } },
        queues: { 'work.q': { type: 'classic' } },
        bindings: [{ source: 'work', queue: 'work.q', routingKey: 'work' }],
        routes: { crashy: { exchange: 'work', routingKey: 'work', schema: 'crashy' } },
      }),
    );
    const loaded = loadTopology(file, { env: {} });
    await ensureTopology(loaded.topology, vh.management, testLogger());
    // The thread starts with the API (the default) and loads the schema module itself. Restarted after 3 s rather than 1 s,
    // so the moment the thread is down is long enough to send a batch in it on a busy machine.
    api = await startApi({ topology: loaded, port: 0, apiKeys: `${KEY}:crashy`, logger: testLogger(), processMetrics: false, config: defaultConfig(), batchThreadRestartMs: 3_000 });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 30_000, 100);
    admin = await amqplib.connect(vh.amqpUrl);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.close();
    await vh?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the batch it held gets 503, a batch meanwhile is answered at once, and the restarted thread publishes the next', async () => {
    const ch = await admin.createChannel();
    const ok = await postBatch(['a', 'b']);
    expect(ok).toMatchObject({ status: 202, body: { accepted: 2 } });

    const died = await postBatch(['c', 'end-the-batch-thread', 'd']);
    expect(died.status).toBe(503);
    expect(died.body.error?.code).toBe('BROKER_UNAVAILABLE');
    // The thread is down for a moment (until it restarts): the replica is not ready meanwhile.
    expect((await fetch(`${api.url}/readyz`)).status).toBe(503);
    const meanwhile = await postBatch(['e']);
    expect(meanwhile.status).toBe(503);
    expect(meanwhile.body.error?.code).toBe('BROKER_UNAVAILABLE');

    // Back by itself: ready again, and a batch goes through the new thread.
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200, 30_000, 100);
    const after = await postBatch(['f', 'g', 'h']);
    expect(after).toMatchObject({ status: 202, body: { accepted: 3 } });
    // Nothing of the batch that died was published (it was still being validated), and the others were.
    expect((await ch.checkQueue('work.q')).messageCount).toBe(5);
    await ch.close();
  }, 60_000);
});
