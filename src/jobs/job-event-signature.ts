import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { WarrenError } from '../errors/index.ts';

/**
 * AMQP `appId` of every message warren writes to the job-events exchange. It
 * tells a human in the management UI where a message came from; authenticity
 * comes from the signature header (HEADERS.eventSignature), not from this.
 */
export const JOB_EVENT_APP_ID = 'warren';

/** Version prefix of the signature header value: `v1.<keyId>.<mac>`. */
const VERSION = 'v1';

/** What a stream reader concluded about one job-events message. */
export type SignatureVerdict = 'valid' | 'unsigned' | 'unknown-key' | 'bad-signature';

/** Signs job-events messages (API, workers, DLQ tooling). */
export interface JobEventSigner {
  /** Short id of the signing key (not secret): shown in logs, written in every signature. */
  readonly keyId: string;
  /** The signature header value for a message of this AMQP `type` and body. */
  sign(type: string, content: Buffer): string;
}

/** Checks job-events messages (the API's stream tail). */
export interface JobEventVerifier {
  /** Verdict for a message, given its `type`, body and signature header (any value; absent = unsigned). */
  verify(type: string | undefined, content: Buffer, signature: unknown): SignatureVerdict;
}

/** The deployment's event key: signs with the current key, verifies with it and any previous ones. */
export interface JobEventKeyring extends JobEventSigner, JobEventVerifier {}

/** Shortest WARREN_EVENT_KEY accepted. */
export const MIN_EVENT_KEY_LENGTH = 16;

interface DerivedKey {
  id: string;
  key: Buffer;
}

/**
 * The key of one vhost, derived from the root secret: a root shared by several
 * deployments (one WARREN_EVENT_KEY for staging and production vhosts) still
 * gives each its own key, so a message copied from one stream into another
 * does not verify there.
 */
function derive(root: Buffer, vhost: string): DerivedKey {
  const key = createHmac('sha256', root).update(`warren job events\u0000${vhost}`).digest();
  // The id is a hash of the derived key: it names the key without revealing anything usable about it.
  const id = createHash('sha256').update('warren job events key id\u0000').update(key).digest('hex').slice(0, 12);
  return { id, key };
}

function mac(key: Buffer, type: string, content: Buffer): Buffer {
  return createHmac('sha256', key).update(type).update('\n').update(content).digest();
}

function rootOf(secret: Buffer | string): Buffer {
  const root = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (root.length < MIN_EVENT_KEY_LENGTH) {
    throw new WarrenError('EVENT_KEY_INVALID', `a job-event key must be at least ${MIN_EVENT_KEY_LENGTH} bytes long (e.g. the output of 'openssl rand -base64 32')`);
  }
  return root;
}

/**
 * Creates the keyring of a deployment (one vhost) from its root secret and,
 * for a rotation, the previous roots whose messages still verify. The MAC is
 * HMAC-SHA256 over the message's `type`, a newline and its body: one per stream
 * message, which the publishers batch, so its cost is shared by many events.
 */
export function createJobEventKeyring(root: Buffer | string, vhost: string, previous: readonly (Buffer | string)[] = []): JobEventKeyring {
  const current = derive(rootOf(root), vhost);
  const byId = new Map<string, Buffer>([[current.id, current.key]]);
  for (const p of previous) {
    const d = derive(rootOf(p), vhost);
    if (!byId.has(d.id)) byId.set(d.id, d.key);
  }
  const prefix = `${VERSION}.${current.id}.`;
  return {
    keyId: current.id,
    sign(type, content) {
      return prefix + mac(current.key, type, content).toString('base64url');
    },
    verify(type, content, signature) {
      if (signature === undefined || signature === null) return 'unsigned';
      // amqplib hands header strings over as strings, but a forger may send any AMQP type.
      const text = Buffer.isBuffer(signature) ? signature.toString('utf8') : signature;
      if (typeof text !== 'string') return 'bad-signature';
      const parts = text.split('.');
      if (parts.length !== 3 || parts[0] !== VERSION) return 'bad-signature';
      const key = byId.get(parts[1] as string);
      if (key === undefined) return 'unknown-key';
      const given = Buffer.from(parts[2] as string, 'base64url');
      const expected = mac(key, type ?? '', content);
      return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'bad-signature';
    },
  };
}
