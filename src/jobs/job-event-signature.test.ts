import { describe, expect, it } from 'vitest';
import { createJobEventKeyring } from './job-event-signature.ts';

const body = Buffer.from('[{"jobId":"j1","status":"succeeded","attempt":1,"at":"2025-01-01T00:00:00.000Z"}]');

describe('job-event signatures', () => {
  const keys = createJobEventKeyring('root-secret-0123456789', 'prod');

  it('verifies what it signed, and nothing that differs in body, type or key', () => {
    const sig = keys.sign('job.batch', body);
    expect(sig).toMatch(/^v1\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    expect(keys.verify('job.batch', body, sig)).toBe('valid');
    expect(keys.verify('job.batch', Buffer.from(body.toString().replace('succeeded', 'failed')), sig)).toBe('bad-signature');
    expect(keys.verify('job.succeeded', body, sig)).toBe('bad-signature');
    const other = createJobEventKeyring('another-secret-0123456789', 'prod');
    expect(keys.verify('job.batch', body, other.sign('job.batch', body))).toBe('unknown-key');
    // A valid-looking header with this deployment's key id but a made-up MAC.
    expect(keys.verify('job.batch', body, `v1.${keys.keyId}.${Buffer.alloc(32, 7).toString('base64url')}`)).toBe('bad-signature');
  });

  it('calls a message without the header unsigned, and any malformed header bad', () => {
    expect(keys.verify('job.batch', body, undefined)).toBe('unsigned');
    for (const h of ['', 'v1', 'v2.x.y', `v1.${keys.keyId}`, `v1.${keys.keyId}.short`, 42, { a: 1 }, true]) {
      expect(keys.verify('job.batch', body, h)).toBe('bad-signature');
    }
    // amqplib may hand a long string over as a Buffer.
    expect(keys.verify('job.batch', body, Buffer.from(keys.sign('job.batch', body)))).toBe('valid');
  });

  it('derives a key per vhost: a message copied from another deployment with the same root does not verify', () => {
    const staging = createJobEventKeyring('root-secret-0123456789', 'staging');
    expect(staging.keyId).not.toBe(keys.keyId);
    expect(keys.verify('job.batch', body, staging.sign('job.batch', body))).toBe('unknown-key');
  });

  it('verifies with previous keys during a rotation, and signs with the current one only', () => {
    const rotated = createJobEventKeyring('new-root-secret-0123456789', 'prod', ['root-secret-0123456789']);
    expect(rotated.verify('job.batch', body, keys.sign('job.batch', body))).toBe('valid');
    expect(keys.verify('job.batch', body, rotated.sign('job.batch', body))).toBe('unknown-key');
  });

  it('refuses a root shorter than 16 bytes', () => {
    expect(() => createJobEventKeyring('too-short', 'prod')).toThrow('a job-event key must be at least 16 bytes long');
  });
});
