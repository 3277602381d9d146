import amqpConnectionManager from 'amqp-connection-manager';
import type { ChannelModel } from 'amqplib';
import { BrokerUnavailableError } from '../errors/index.ts';
import type { Logger } from '../observability/logger.ts';
import { loggableUrl } from './loggable-url.ts';

/**
 * One reconnecting AMQP connection (amqp-connection-manager underneath:
 * round-robin over several broker URLs, reconnect with a delay). Channels are
 * NOT wrapped: each part (publisher, consumers) opens its own channels in an
 * `onConnect` hook, so a delivery is always acked on the channel it came from
 * and never on a newer one (no `unknown delivery tag` after a reconnect).
 */
export interface BrokerConnection {
  /** The live connection, or undefined while disconnected. */
  current(): ChannelModel | undefined;
  isConnected(): boolean;
  /** Resolves with the live connection, waiting up to `timeoutMs`; rejects with BrokerUnavailableError. */
  waitForConnection(timeoutMs: number): Promise<ChannelModel>;
  /** Runs `setup` now (if connected) and after every reconnect. Returns an unsubscribe function. */
  onConnect(setup: (connection: ChannelModel) => void | Promise<void>): () => void;
  /** Called with the error whenever the connection drops. */
  onDisconnect(listener: (err: Error | undefined) => void): () => void;
  /** URL of the node currently connected to, password masked. */
  currentUrl(): string | undefined;
  close(): Promise<void>;
}

/** Options of {@link createBrokerConnection}. */
export interface BrokerConnectionOptions {
  /** Broker URLs; warren connects to any live one and fails over in order. */
  urls: readonly string[];
  /** Virtual host, applied to URLs that don't name one. @default / */
  vhost?: string;
  /** Heartbeat in seconds: a dead peer is noticed within about twice this. @default 10 */
  heartbeat?: number;
  /** Delay between reconnect attempts in seconds. @default 1 */
  reconnectSeconds?: number;
  /** Connection name shown in the management UI. */
  name?: string;
  logger?: Logger;
}

/** Puts `vhost` into an AMQP URL whose path is empty; a URL that names a vhost keeps it. */
export function withVhost(url: string, vhost: string): string {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') {
    return `${url.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`;
  }
  return url;
}

/** Creates the connection and starts connecting in the background. */
export function createBrokerConnection(options: BrokerConnectionOptions): BrokerConnection {
  const vhost = options.vhost ?? '/';
  const urls = options.urls.map((u) => withVhost(u, vhost));
  const heartbeat = options.heartbeat ?? 10;
  const manager = amqpConnectionManager.connect(urls, {
    heartbeatIntervalInSeconds: heartbeat,
    reconnectTimeInSeconds: options.reconnectSeconds ?? 1,
    connectionOptions: {
      clientProperties: { connection_name: options.name ?? `warren-${process.pid}` },
      timeout: 5_000,
      // Nagle would hold a publish behind an unacknowledged earlier write for up to 40 ms (delayed ACK).
      noDelay: true,
    },
  });
  const setups = new Set<(c: ChannelModel) => void | Promise<void>>();
  const disconnectListeners = new Set<(err: Error | undefined) => void>();
  let url: string | undefined;
  let closed = false;
  let lastError: Error | undefined;

  manager.on('connect', ({ url: u }) => {
    url = loggableUrl(typeof u === 'string' ? u : String(u));
    options.logger?.info({ url }, 'connected to RabbitMQ');
    const conn = manager.connection;
    if (!conn) return;
    for (const setup of setups) runSetup(setup, conn);
  });
  manager.on('disconnect', ({ err }) => {
    url = undefined;
    lastError = err;
    if (!closed) options.logger?.warn({ err: err?.message }, 'disconnected from RabbitMQ; reconnecting');
    for (const l of disconnectListeners) l(err);
  });
  manager.on('connectFailed', ({ err, url: u }) => {
    lastError = err;
    options.logger?.warn({ url: u ? loggableUrl(String(u)) : undefined, err: err.message }, 'connection attempt failed');
  });
  manager.on('blocked', ({ reason }) => options.logger?.warn({ reason }, 'broker blocked the connection (resource alarm)'));
  // Errors surface through 'disconnect'; swallowing 'error' keeps an unhandled event from crashing the process.
  manager.on('error', () => undefined);

  function runSetup(setup: (c: ChannelModel) => void | Promise<void>, conn: ChannelModel): void {
    Promise.resolve()
      .then(() => setup(conn))
      .catch((err: unknown) => options.logger?.error({ err: (err as Error).message }, 'channel setup failed after connect'));
  }

  return {
    current: () => (manager.isConnected() ? manager.connection : undefined),
    isConnected: () => manager.isConnected(),
    currentUrl: () => url,
    async waitForConnection(timeoutMs: number): Promise<ChannelModel> {
      const now = manager.isConnected() ? manager.connection : undefined;
      if (now) return now;
      return new Promise<ChannelModel>((resolve, reject) => {
        const onConnect = () => {
          clearTimeout(timer);
          const c = manager.connection;
          if (c) resolve(c);
          else reject(new BrokerUnavailableError('RabbitMQ connection dropped right after connecting'));
        };
        const timer = setTimeout(() => {
          manager.removeListener('connect', onConnect);
          const shown = urls.map(loggableUrl).join(', ');
          reject(
            new BrokerUnavailableError(
              `RabbitMQ is not reachable at ${shown} after ${timeoutMs}ms${lastError ? ` (${lastError.message})` : ''}. Is the broker running? Run scripts/ensure-rabbitmq.sh, or check connection.urls and credentials.`,
              { cause: lastError },
            ),
          );
        }, timeoutMs);
        manager.once('connect', onConnect);
      });
    },
    onConnect(setup) {
      setups.add(setup);
      const conn = manager.isConnected() ? manager.connection : undefined;
      if (conn) runSetup(setup, conn);
      return () => setups.delete(setup);
    },
    onDisconnect(listener) {
      disconnectListeners.add(listener);
      return () => disconnectListeners.delete(listener);
    },
    async close() {
      closed = true;
      await manager.close();
    },
  };
}
