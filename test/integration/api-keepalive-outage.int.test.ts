import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/start-api.ts';
import { API_KEYS, AUTH, apiTestTopology, chatBody, declareApiTestTopology, eventually, testLogger } from './helpers/api-fixture.ts';
import { TEST_AMQP_BASE } from './helpers/broker-env.ts';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';

/**
 * A keep-alive client (one pooled connection, as a load balancer or an SDK keeps) through a broker outage, with
 * idle gaps longer than Node's default 5 s keep-alive: with warren's defaults (65 s) the server never closes the
 * connection under the client, so every request gets an HTTP answer (202, or 503 with a JSON error), all on the
 * same connection. With Node's 5 s the server would have closed it during each gap, and a request sent just as it
 * closed would have been cut with no answer.
 */
describe('API keep-alive connections through a broker outage', () => {
  let vh: TestVhost;
  let proxy: TcpProxy;
  let api: RunningApi;

  beforeAll(async () => {
    vh = await createTestVhost('api-keepalive');
    await declareApiTestTopology(vh);
    const target = new URL(TEST_AMQP_BASE);
    proxy = await createTcpProxy(Number(target.port || 5672), target.hostname);
    api = await startApi({
      topology: apiTestTopology(`amqp://${target.username}:${target.password}@127.0.0.1:${proxy.port}`, vh.vhost, { publishTimeout: '1s' }),
      port: 0,
      apiKeys: API_KEYS,
      logger: testLogger(),
      processMetrics: false,
      // No `timeouts`: the defaults from the configuration, as `warren start` runs.
    });
    await eventually(async () => (await fetch(`${api.url}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await api?.close();
    await proxy?.close();
    await vh?.cleanup();
  });

  it('answers every request on the same pooled connection, across idle gaps longer than 5 s and a broker outage', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<{ status: number; body: { error?: { code?: string } }; localPort: number; keepAlive: string | undefined }>((resolve, reject) => {
        const body = JSON.stringify(chatBody(300));
        const req = request(`${api.url}/v1/jobs/chat`, { method: 'POST', agent, headers: { ...AUTH, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          const localPort = res.socket.localPort ?? -1;
          let text = '';
          res.on('data', (b: Buffer) => (text += b.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error?: { code?: string } }, localPort, keepAlive: String(res.headers['keep-alive']) }));
        });
        req.on('error', reject); // a connection cut under the request: no HTTP answer
        req.end(body);
      });
    const idle = () => new Promise((r) => setTimeout(r, 5_500));
    try {
      const first = await post();
      expect(first.status).toBe(202);
      expect(first.keepAlive).toBe('timeout=65');

      await proxy.cut();
      await idle();
      const during = await post();
      expect(during.status).toBe(503);
      expect(during.body.error?.code).toMatch(/^PUBLISH_/);
      expect(during.localPort).toBe(first.localPort); // still the same connection after 5.5 s idle

      await proxy.restore();
      await idle();
      const after = await eventually(async () => {
        const r = await post();
        expect([202, 503]).toContain(r.status); // always an HTTP answer, never a cut connection
        expect(r.localPort).toBe(first.localPort);
        return r.status === 202 ? r : undefined;
      }, 20_000, 200);
      expect(after.status).toBe(202);
    } finally {
      agent.destroy();
    }
  });
});
