import { randomBytes } from 'node:crypto';
import type { Channel, ChannelModel } from 'amqplib';
import { z } from 'zod';
import { seg, type ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError, WarrenError, isWarrenError } from '../errors/index.ts';
import type { Logger } from '../observability/logger.ts';
import { createJobEventKeyring, type JobEventKeyring } from './job-event-signature.ts';

/** Name of the broker's global parameter holding the event key of `vhost`. */
export function eventKeyParameterName(vhost: string): string {
  return `warren-job-events-key@${vhost}`;
}

/** Exclusive queue that serialises the first creation of the key between processes starting together. */
export const EVENT_KEY_LOCK_QUEUE = 'warren.job-events-key.lock';

const storedKeySchema = z.object({
  /** 32 random bytes, base64. */
  key: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
  createdAt: z.string(),
});

/** Options of {@link loadJobEventKeyring}. */
export interface LoadJobEventKeyringOptions {
  /** The operator's key (WARREN_EVENT_KEY); wins over the broker's when given. */
  key?: string | undefined;
  /** The key before a rotation (WARREN_EVENT_KEY_PREVIOUS): still verified, never used to sign. */
  previousKey?: string | undefined;
  /** The deployment's vhost (topology `connection.vhost`): keys are derived per vhost. */
  vhost: string;
  /** Reads (and, the first time, creates) the key kept in the broker when the env does not give one. */
  management: ManagementClient;
  /** The live AMQP connection, used to take a lock while creating the key. @default no lock */
  connection?: ChannelModel | undefined;
  logger: Logger;
  /** The broker parameter's name. @default eventKeyParameterName(vhost) */
  parameterName?: string;
  /** How long to wait for another process that is creating the key. @default 15000 */
  lockTimeoutMs?: number;
}

function unavailable(message: string, cause: unknown): WarrenError {
  return new WarrenError(
    'EVENT_KEY_UNAVAILABLE',
    `${message}. Job events are signed with a per-deployment key kept in the broker (global parameter, readable with the management API by users ` +
      `tagged policymaker or administrator); give connection.management such a user, or set WARREN_EVENT_KEY to the same secret on every API, worker and DLQ process`,
    { cause },
  );
}

async function readStored(management: ManagementClient, name: string): Promise<Buffer | undefined> {
  let body: { value?: unknown };
  try {
    body = await management.get<{ value?: unknown }>(`/global-parameters/${seg(name)}`);
  } catch (err) {
    if (err instanceof ManagementApiError && err.status === 404) return undefined;
    throw err;
  }
  const parsed = storedKeySchema.safeParse(body.value);
  if (!parsed.success) {
    throw new WarrenError('EVENT_KEY_INVALID', `the broker's global parameter '${name}' is not a warren job-event key; delete it (warren creates a new one) or set WARREN_EVENT_KEY`);
  }
  return Buffer.from(parsed.data.key, 'base64');
}

/**
 * Runs `fn` while holding an exclusive queue on the connection: processes that
 * start together (an API and a worker container) create the key once instead
 * of each writing its own. Without permission for the queue it runs `fn`
 * unlocked; a crashed holder's lock goes away with its connection.
 */
async function withLock<T>(connection: ChannelModel | undefined, timeoutMs: number, logger: Logger, fn: () => Promise<T>): Promise<T> {
  if (connection === undefined) return fn();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ch: Channel;
    try {
      ch = await connection.createChannel();
    } catch {
      return fn();
    }
    // A refused declare closes the channel with an 'error' event: without a listener that would be an uncaught error.
    ch.on('error', () => undefined);
    try {
      await ch.assertQueue(EVENT_KEY_LOCK_QUEUE, { exclusive: true, autoDelete: true, durable: false });
    } catch (err) {
      const message = (err as Error).message;
      if (/RESOURCE_LOCKED/.test(message) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
        continue;
      }
      logger.debug({ err: message }, 'could not take the job-event key lock; creating the key without it');
      return fn();
    }
    try {
      return await fn();
    } finally {
      await ch.deleteQueue(EVENT_KEY_LOCK_QUEUE).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  }
}

/**
 * The deployment's job-event keyring. `WARREN_EVENT_KEY` wins when set (and
 * `WARREN_EVENT_KEY_PREVIOUS` still verifies during a rotation); otherwise the
 * key is read from the broker's global parameter `warren-job-events-key@<vhost>`,
 * created with 32 random bytes by the first process that finds none. Fails
 * with EVENT_KEY_UNAVAILABLE when neither works: a process that can't sign or
 * verify events must not run.
 */
export async function loadJobEventKeyring(options: LoadJobEventKeyringOptions): Promise<JobEventKeyring> {
  const fromEnv = options.key?.trim();
  const previous = options.previousKey?.trim();
  if (fromEnv) {
    const keyring = createJobEventKeyring(fromEnv, options.vhost, previous ? [previous] : []);
    options.logger.debug({ keyId: keyring.keyId }, 'job events signed with WARREN_EVENT_KEY');
    return keyring;
  }
  const name = options.parameterName ?? eventKeyParameterName(options.vhost);
  const { management, logger } = options;
  try {
    let root = await readStored(management, name);
    if (root === undefined) {
      root = await withLock(options.connection, options.lockTimeoutMs ?? 15_000, logger, async () => {
        const again = await readStored(management, name);
        if (again !== undefined) return again;
        await management.put(`/global-parameters/${seg(name)}`, { name, value: { key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() } });
        // Read back: without the lock, a process that wrote at the same moment may have won.
        const stored = await readStored(management, name);
        if (stored === undefined) throw new WarrenError('EVENT_KEY_UNAVAILABLE', `the global parameter '${name}' vanished right after it was written`);
        logger.info({ parameter: name }, 'created the job-event signing key in the broker');
        return stored;
      });
    }
    return createJobEventKeyring(root, options.vhost, previous ? [previous] : []);
  } catch (err) {
    if (isWarrenError(err) && err.code === 'EVENT_KEY_INVALID') throw err;
    throw unavailable(`could not read the job-event key '${name}' from the broker at ${management.displayUrl}: ${(err as Error).message}`, err);
  }
}

/**
 * Deletes `vhost` and the job-event key kept for it in the global parameter
 * `warren-job-events-key@<vhost>`, which is broker-wide: deleting the vhost
 * alone leaves it behind (every test and benchmark vhost left one). Both may
 * already be gone.
 */
export async function deleteVhostWithEventKey(management: ManagementClient, vhost: string): Promise<void> {
  await management.delete(`/vhosts/${seg(vhost)}`, { ignoreNotFound: true });
  await management.delete(`/global-parameters/${seg(eventKeyParameterName(vhost))}`, { ignoreNotFound: true });
}
