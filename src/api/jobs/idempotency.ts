import { createHash } from 'node:crypto';
import { ApiError } from '../api-error.ts';

/** Namespace of warren's name-based (v5) job ids. */
export const JOB_ID_NAMESPACE = 'c7a1f3b2-6d2e-4b8f-9a51-2f0e7d9c4a13';

const NAMESPACE_BYTES = Buffer.from(JOB_ID_NAMESPACE.replace(/-/g, ''), 'hex');

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}
const KEY_RE = /^[\x21-\x7e]{1,255}$/;

/** RFC 4122 version-5 UUID of `name` in `namespace` (warren's by default). */
export function uuidV5(name: string, namespace?: string): string {
  const hash = createHash('sha1').update(namespace === undefined ? NAMESPACE_BYTES : uuidBytes(namespace)).update(name, 'utf8').digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The job id for an idempotency key: the same caller, target and key always
 * give the same id, on every replica and after restarts, so the status index
 * (fed by the shared job-events stream) tells whether that job already exists.
 */
export function idempotentJobId(callerId: string, target: string, key: string): string {
  return uuidV5(`${callerId}\n${target}\n${key}`);
}

/** Validates an `Idempotency-Key` header: 1-255 printable ASCII characters without spaces; 400 otherwise. */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!KEY_RE.test(header)) {
    throw new ApiError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1-255 printable ASCII characters without spaces (a UUID is a good choice)');
  }
  return header;
}
