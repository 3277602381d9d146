import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seg } from '../../src/broker/management-client.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startWorker, type Worker } from '../../src/worker/start-worker.ts';
import { body, createWorkerHarness, echoTaskTopology, testTopology, type Collector, type WorkerHarness } from './helpers/worker-harness.ts';

// Connection loss without touching the shared broker: the management API
// force-closes the worker's connection, and a TCP proxy cuts it like a network
// failure. The worker must re-subscribe by itself and never ack a delivery of
// the dead channel on the new one (a 406 would close the new channel).
type EchoResult = { jobId: string; result: { redelivered: boolean } };

/** Captures the worker's JSON log lines. */
function logSink(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: stream }), text: () => text };
}

/** A TCP proxy in front of the broker whose connections can be cut at will. */
async function startProxy(targetPort: number): Promise<{ port: number; cut(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('worker reconnect', () => {
  let h: WorkerHarness;
  let results: Collector;

  beforeAll(async () => {
    h = await createWorkerHarness('worker-reconn', echoTaskTopology());
    results = await h.collect('results.q');
  });
  afterAll(async () => {
    await h?.close();
  });

  const publish = (n: number, sleepMs: number, tag: string) => Promise.all(Array.from({ length: n }, (_, i) => h.publish('task', { type: tag, input: { sleepMs, i } })));
  const resultsFor = (ids: string[], timeoutMs = 20_000) => results.waitFor(ids.length, timeoutMs, (m) => ids.includes(String(m.properties.correlationId)));

  async function expectHealthy(worker: Worker, logs: () => string): Promise<void> {
    // The re-subscribed consumer takes new work.
    const fresh = await publish(5, 0, 'after');
    await resultsFor(fresh);
    expect(worker.stats().work?.consuming).toBe(true);
    // amqplib words a channel closed for a bad ack as `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - unknown delivery tag 5"`.
    // Match those words, never a bare 406: pino timestamps and pids contain any three digits.
    expect(logs()).not.toMatch(/PRECONDITION[-_]FAILED|unknown delivery tag|\b406 \(/);
  }

  it('re-subscribes after the broker force-closes the connection; in-flight jobs are redelivered, not acked on the new channel', async () => {
    const name = `warren-test-reconnect-${randomUUID().slice(0, 8)}`;
    const sink = logSink();
    const worker = await startWorker({ topology: h.loaded, logger: sink.logger, connectionName: name });
    try {
      // The management API lists a new connection after its stats tick: find it before the jobs start.
      let connName: string | undefined;
      const deadline = Date.now() + 20_000;
      while (!connName && Date.now() < deadline) {
        const conns = await h.vh.management.get<{ name: string; client_properties?: { connection_name?: string } }[]>(`/vhosts/${seg(h.vh.vhost)}/connections`);
        connName = conns.find((c) => c.client_properties?.connection_name === name)?.name;
        if (!connName) await new Promise((r) => setTimeout(r, 250));
      }
      expect(connName).toBeDefined();
      const ids = await publish(4, 1_500, 'inflight');
      await h.events.waitFor((e) => ids.includes(e.jobId) && e.status === 'running', 10_000, 4);
      await h.vh.management.delete(`/connections/${seg(connName!)}`);

      const done = await resultsFor(ids);
      // Their first run's acks were dropped with the dead channel: the broker redelivered them.
      for (const m of done) expect(body<EchoResult>(m).result.redelivered).toBe(true);
      expect(sink.text()).toMatch(/consumer channel closed; its unacked deliveries return to the queue/);
      await expectHealthy(worker, sink.text);
    } finally {
      await worker.close(2_000);
    }
    // Nothing left behind, nothing doubled.
    expect((await h.ch.checkQueue('work')).messageCount).toBe(0);
  });

  it('re-subscribes after the network drops (TCP proxy cut) with jobs in flight', async () => {
    const proxy = await startProxy(5672);
    const viaProxy = testTopology(h.vh.vhost, {
      ...echoTaskTopology()(),
      connection: { urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`], management: h.topology.connection.management, vhost: h.vh.vhost, heartbeat: 2 },
    });
    const sink = logSink();
    const worker = await startWorker({ topology: { ...h.loaded, topology: viaProxy }, logger: sink.logger });
    try {
      const ids = await publish(4, 1_000, 'cut');
      await h.events.waitFor((e) => ids.includes(e.jobId) && e.status === 'running', 10_000, 4);
      expect(proxy.cut()).toBeGreaterThan(0);
      const done = await resultsFor(ids);
      expect(new Set(done.map((m) => body<EchoResult>(m).jobId)).size).toBe(4);
      await expectHealthy(worker, sink.text);
    } finally {
      await worker.close(2_000);
      await proxy.close();
    }
    expect((await h.ch.checkQueue('work')).messageCount).toBe(0);
  });
});
