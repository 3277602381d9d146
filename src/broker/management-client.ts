import { BrokerUnavailableError, ManagementApiError } from '../errors/index.ts';
import { loggableUrl } from './loggable-url.ts';

/** A thin client for the RabbitMQ management HTTP API. */
export interface ManagementClient {
  /** Base URL with credentials masked, for messages. */
  readonly displayUrl: string;
  get<T = unknown>(path: string): Promise<T>;
  put(path: string, body: unknown): Promise<void>;
  post<T = unknown>(path: string, body: unknown): Promise<T>;
  delete(path: string, options?: { ignoreNotFound?: boolean }): Promise<void>;
}

/** Options of {@link createManagementClient}. */
export interface ManagementClientOptions {
  /** e.g. `http://guest:guest@127.0.0.1:15672` (credentials may be inline). */
  url: string;
  /** Per-request timeout. @default 10000 */
  timeoutMs?: number;
  /** Injected for tests. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** URL-encodes one path segment; `/` (the default vhost) becomes `%2F` as the API wants. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** Creates a management API client. Errors are typed: unreachable, 401 and other statuses each say what to do. */
export function createManagementClient(options: ManagementClientOptions): ManagementClient {
  const parsed = new URL(options.url);
  const auth = 'Basic ' + Buffer.from(`${decodeURIComponent(parsed.username || 'guest')}:${decodeURIComponent(parsed.password || 'guest')}`).toString('base64');
  parsed.username = '';
  parsed.password = '';
  const base = parsed.toString().replace(/\/$/, '');
  const displayUrl = loggableUrl(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? globalThis.fetch;

  async function request(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(`${base}/api${path}`, {
        method,
        headers: { authorization: auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new BrokerUnavailableError(
        `RabbitMQ management API at ${displayUrl} is not reachable (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}). ` +
          `Is the broker running with the rabbitmq_management plugin enabled? Run scripts/ensure-rabbitmq.sh, or set connection.management in topology.yaml.`,
        { cause: err },
      );
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let reason = text;
    try {
      const j = JSON.parse(text) as { reason?: string; error?: string };
      reason = j.reason ?? j.error ?? text;
    } catch {
      // not JSON: keep the text
    }
    if (res.status === 401) {
      throw new ManagementApiError(401, `RabbitMQ management API at ${displayUrl} refused the credentials (401). Check the user and password in connection.management.`);
    }
    throw new ManagementApiError(res.status, `${method} ${path} failed with ${res.status}: ${reason}`, { details: { status: res.status, reason } });
  }

  return {
    displayUrl,
    async get<T>(path: string): Promise<T> {
      return (await (await request('GET', path)).json()) as T;
    },
    async put(path: string, body: unknown): Promise<void> {
      await (await request('PUT', path, body)).arrayBuffer();
    },
    async post<T>(path: string, body: unknown): Promise<T> {
      const res = await request('POST', path, body);
      const text = await res.text();
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    async delete(path: string, opts: { ignoreNotFound?: boolean } = {}): Promise<void> {
      try {
        await (await request('DELETE', path)).arrayBuffer();
      } catch (err) {
        if (opts.ignoreNotFound && err instanceof ManagementApiError && err.status === 404) return;
        throw err;
      }
    },
  };
}
