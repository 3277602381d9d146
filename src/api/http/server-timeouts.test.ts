import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig } from '../../config/load-config.ts';
import { checkServerTimeouts, serverTimeoutOptions, serverTimeoutsFromConfig, type ServerTimeouts } from './server-timeouts.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A real HTTP server built the way startApi builds it (serve + serverTimeoutOptions). */
async function listen(t: ServerTimeouts): Promise<{ port: number; server: Server }> {
  const app = new Hono().get('/', (c) => c.json({ ok: true }));
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: serverTimeoutOptions(t) }, () => resolve(s as Server));
  });
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, server };
}

/** One raw TCP connection speaking HTTP/1.1 (no client-side pool that second-guesses the server). */
async function rawConnection(port: number): Promise<{ get(): Promise<string>; closed: Promise<number>; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  let buffered = '';
  let waiting: ((text: string) => void) | undefined;
  socket.on('data', (b: Buffer) => {
    buffered += b.toString();
    // Each answer here is small: headers + a JSON body of known length.
    const end = buffered.indexOf('\r\n\r\n');
    const length = /content-length: (\d+)/i.exec(buffered)?.[1];
    if (end >= 0 && length !== undefined && waiting && buffered.length >= end + 4 + Number(length)) {
      const text = buffered;
      buffered = '';
      waiting(text);
      waiting = undefined;
    }
  });
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
  return {
    socket,
    closed,
    get: () =>
      new Promise<string>((resolve) => {
        waiting = resolve;
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API server timeouts (behind a load balancer)', () => {
  it('defaults keep idle connections longer than a load balancer (65 s > 60 s) and the headers timer above that', async () => {
    const t = serverTimeoutsFromConfig(defaultConfig());
    expect(t).toEqual({ keepAliveTimeoutMs: 65_000, headersTimeoutMs: 66_000, requestTimeoutMs: 300_000 });
    // And the real server gets them (Node's own default keep-alive is 5 s).
    const { server } = await listen(t);
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBe(66_000);
    expect(server.requestTimeout).toBe(300_000);
    // Clients and balancers that read the hint see the same.
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(res.headers.get('keep-alive')).toBe('timeout=65');
  });

  it('reads the env variables and refuses timers that contradict each other', () => {
    const t = serverTimeoutsFromConfig(loadConfig({ WARREN_API_KEEP_ALIVE_TIMEOUT: '2m', WARREN_API_HEADERS_TIMEOUT: '125s', WARREN_API_REQUEST_TIMEOUT: '0' }));
    expect(t).toEqual({ keepAliveTimeoutMs: 120_000, headersTimeoutMs: 125_000, requestTimeoutMs: 0 });
    expect(() => checkServerTimeouts({ keepAliveTimeoutMs: 65_000, headersTimeoutMs: 60_000, requestTimeoutMs: 0 })).toThrow(/WARREN_API_HEADERS_TIMEOUT \(60000ms\) must be above WARREN_API_KEEP_ALIVE_TIMEOUT/);
    expect(() => checkServerTimeouts({ keepAliveTimeoutMs: 1_000, headersTimeoutMs: 2_000, requestTimeoutMs: 1_500 })).toThrow(/WARREN_API_REQUEST_TIMEOUT/);
    expect(() => loadConfig({ WARREN_API_KEEP_ALIVE_TIMEOUT: 'soon' })).toThrow(/WARREN_API_KEEP_ALIVE_TIMEOUT/);
  });

  it('a keep-alive connection idle for less than the configured timeout is reused; the server closes it at the timeout, not before', async () => {
    // Scaled down: 1.5 s configured stands for 65 s, 1 s idle for a balancer's idle gap that Node's
    // old 5 s default would have cut.
    const { port } = await listen({ keepAliveTimeoutMs: 1_500, headersTimeoutMs: 2_000, requestTimeoutMs: 0 });
    const conn = await rawConnection(port);
    try {
      expect(await conn.get()).toMatch(/^HTTP\/1\.1 200[\s\S]*keep-alive: timeout=1/i);
      await sleep(1_000);
      expect(conn.socket.destroyed).toBe(false);
      expect(await conn.get()).toMatch(/^HTTP\/1\.1 200/); // same TCP connection, after 1 s idle
      const idleSince = Date.now();
      const closedAt = await conn.closed; // the server ends it once idle for the configured 1.5 s
      expect(closedAt - idleSince).toBeGreaterThanOrEqual(1_400);
      expect(closedAt - idleSince).toBeLessThan(4_000);
    } finally {
      conn.socket.destroy();
    }
  });
});
