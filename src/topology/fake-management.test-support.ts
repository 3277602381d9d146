import type { ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError } from '../errors/index.ts';
import type { ActualState } from './actual-state.ts';

/** One write the fake received. */
export interface RecordedWrite {
  method: 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

/** A management client for unit tests: GETs answer from a fixed state, writes are recorded (and can be made to fail). */
export interface FakeManagement extends ManagementClient {
  writes: RecordedWrite[];
}

/** Options of {@link createFakeManagement}. */
export interface FakeManagementOptions {
  /** What GET answers; undefined vhost means it doesn't exist (404). */
  state?: ActualState;
  /** Makes a write fail: return an error to throw. */
  failWrite?: (write: RecordedWrite) => Error | undefined;
  /** Makes every request fail (unreachable broker, 401). */
  failAll?: () => Error;
}

/** Creates the fake. Paths are matched the way readActualState and executeStep build them. */
export function createFakeManagement(options: FakeManagementOptions = {}): FakeManagement {
  const writes: RecordedWrite[] = [];
  const state = options.state;
  const vhostPath = state === undefined ? undefined : encodeURIComponent(state.vhost);

  async function write(w: RecordedWrite): Promise<void> {
    if (options.failAll) throw options.failAll();
    // Let parallel writes interleave like real HTTP calls.
    await new Promise((r) => setImmediate(r));
    const err = options.failWrite?.(w);
    if (err) throw err;
    writes.push(w);
  }

  return {
    displayUrl: 'http://guest:***@fake:15672',
    writes,
    async get<T>(path: string): Promise<T> {
      if (options.failAll) throw options.failAll();
      const [route = '', vhost] = path.replace(/\?.*$/, '').split('/').filter((p) => p !== '');
      if (state === undefined || vhost !== vhostPath) throw new ManagementApiError(404, `GET ${path} failed with 404: Not Found`, { details: { status: 404, reason: 'Not Found' } });
      const rows: Record<string, unknown> = {
        vhosts: { name: state.vhost },
        exchanges: state.exchanges.map((e) => ({ name: e.name, type: e.type, durable: e.durable, auto_delete: e.autoDelete, internal: e.internal, arguments: e.arguments })),
        queues: state.queues.map((q) => ({ name: q.name, type: q.type, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments, messages: q.messages })),
        bindings: state.bindings.map((b) => ({
          source: b.source,
          destination: b.destination,
          destination_type: b.destinationType,
          routing_key: b.routingKey,
          arguments: b.arguments,
          properties_key: b.propertiesKey,
        })),
        policies: state.policies.map((p) => ({ name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, priority: p.priority, definition: p.definition, vhost: state.vhost })),
      };
      if (!(route in rows)) throw new Error(`fake management: unexpected GET ${path}`);
      return rows[route] as T;
    },
    put: (path, body) => write({ method: 'PUT', path, body }),
    async post<T>(path: string, body: unknown): Promise<T> {
      await write({ method: 'POST', path, body });
      return undefined as T;
    },
    delete: (path) => write({ method: 'DELETE', path }),
  };
}
