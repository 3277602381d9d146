import net from 'node:net';

/** Modes of a {@link TcpProxy}: forwarding, cut (connections dropped and refused) or stalled (bytes held back). */
export type ProxyMode = 'open' | 'cut' | 'stalled';

/**
 * A loopback TCP proxy in front of a broker port that a test can break on purpose:
 * `cut()` is a crashed peer or a pulled cable with RST (every socket destroyed,
 * new ones reset at once), `stall()` is a silent network partition (sockets stay
 * open, no byte moves in either direction, so only heartbeats can notice it).
 */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Current mode. */
  mode(): ProxyMode;
  /** Client connections currently open through the proxy. */
  openConnections(): number;
  /** Connections accepted since start (including the ones reset while cut). */
  acceptedTotal(): number;
  /** Destroys every connection (both sides) and resets new ones until {@link restore}. */
  cut(): void;
  /** Stops forwarding in both directions without closing anything, until {@link restore}. */
  stall(): void;
  /** Forwards again; stalled bytes are delivered, held new connections get their upstream. */
  restore(): void;
  /** Replaces `host:port` of an AMQP/HTTP URL with the proxy's address. */
  rewrite(url: string): string;
  close(): Promise<void>;
}

/** Options of {@link createTcpProxy}. */
export interface TcpProxyOptions {
  targetPort: number;
  /** @default 127.0.0.1 */
  targetHost?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  listenPort?: number;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  /** One side closed during a stall: the other side learns it only on restore, like a real partition. */
  brokenWhileStalled: boolean;
}

/** Starts the proxy; resolves once it listens. */
export async function createTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  let mode: ProxyMode = 'open';
  let accepted = 0;
  const pairs = new Set<Pair>();

  function destroyPair(pair: Pair): void {
    if (mode === 'stalled') {
      pair.brokenWhileStalled = true;
      return;
    }
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  // Manual forwarding (instead of pipe) so a stall can pause both directions and a restore resume them,
  // with back-pressure kept: a full write buffer pauses the reading side until 'drain'.
  function forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (mode === 'open') from.resume();
    });
  }

  function connectUpstream(pair: Pair): void {
    const upstream = net.connect({ host: targetHost, port: options.targetPort });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => destroyPair(pair));
    upstream.on('close', () => destroyPair(pair));
    forward(pair.client, upstream);
    forward(upstream, pair.client);
    pair.client.resume();
  }

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted += 1;
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: undefined, brokenWhileStalled: false };
    pairs.add(pair);
    client.on('error', () => destroyPair(pair));
    client.on('close', () => destroyPair(pair));
    // A connection arriving during a stall waits (paused, no upstream) like a SYN into a black hole.
    if (mode === 'open') connectUpstream(pair);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not get a TCP port');
  const port = address.port;

  return {
    port,
    mode: () => mode,
    openConnections: () => pairs.size,
    acceptedTotal: () => accepted,
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy();
        pair.upstream?.resetAndDestroy();
        pairs.delete(pair);
      }
    },
    stall() {
      mode = 'stalled';
      for (const pair of pairs) {
        pair.client.pause();
        pair.upstream?.pause();
      }
    },
    restore() {
      mode = 'open';
      for (const pair of [...pairs]) {
        if (pair.brokenWhileStalled || pair.client.destroyed || pair.upstream?.destroyed === true) {
          destroyPair(pair);
        } else if (pair.upstream === undefined) {
          connectUpstream(pair);
        } else {
          pair.client.resume();
          pair.upstream.resume();
        }
      }
    },
    rewrite(url: string): string {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
    },
    async close() {
      mode = 'cut';
      for (const pair of [...pairs]) destroyPair(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
