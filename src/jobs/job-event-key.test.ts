import { describe, expect, it } from 'vitest';
import type { ManagementClient } from '../broker/management-client.ts';
import { ManagementApiError } from '../errors/index.ts';
import { createSilentLogger } from '../observability/logger.ts';
import { eventKeyParameterName, loadJobEventKeyring } from './job-event-key.ts';
import { createJobEventKeyring } from './job-event-signature.ts';

/** A management API holding global parameters in a Map (the real one is exercised by the integration tests). */
function fakeManagement(initial: Record<string, unknown> = {}, fail?: ManagementApiError) {
  const params = new Map<string, unknown>(Object.entries(initial));
  const calls: string[] = [];
  const client: ManagementClient = {
    displayUrl: 'http://fake',
    async get<T>(path: string): Promise<T> {
      calls.push(`GET ${path}`);
      if (fail) throw fail;
      const name = decodeURIComponent(path.replace('/global-parameters/', ''));
      if (!params.has(name)) throw new ManagementApiError(404, 'not found');
      return { name, value: params.get(name) } as T;
    },
    async put(path: string, body: unknown) {
      calls.push(`PUT ${path}`);
      params.set(decodeURIComponent(path.replace('/global-parameters/', '')), (body as { value: unknown }).value);
    },
    post: async () => undefined as never,
    delete: async () => undefined,
  };
  return { client, params, calls };
}

const body = Buffer.from('{"jobId":"j","status":"queued","at":"x"}');
const base = { vhost: 'prod', logger: createSilentLogger() };

describe('loadJobEventKeyring', () => {
  it('uses WARREN_EVENT_KEY without asking the broker, and WARREN_EVENT_KEY_PREVIOUS still verifies', async () => {
    const m = fakeManagement();
    const keys = await loadJobEventKeyring({ ...base, management: m.client, key: 'new-secret-0123456789', previousKey: 'old-secret-0123456789' });
    expect(m.calls).toEqual([]);
    expect(keys.keyId).toBe(createJobEventKeyring('new-secret-0123456789', 'prod').keyId);
    expect(keys.verify('job.queued', body, createJobEventKeyring('old-secret-0123456789', 'prod').sign('job.queued', body))).toBe('valid');
  });

  it('creates the key in the broker once; every later process reads the same one', async () => {
    const m = fakeManagement();
    const first = await loadJobEventKeyring({ ...base, management: m.client });
    expect(m.calls.filter((c) => c.startsWith('PUT'))).toEqual([`PUT /global-parameters/${encodeURIComponent(eventKeyParameterName('prod'))}`]);
    const stored = m.params.get(eventKeyParameterName('prod')) as { key: string; createdAt: string };
    expect(Buffer.from(stored.key, 'base64')).toHaveLength(32);
    const second = await loadJobEventKeyring({ ...base, management: m.client });
    expect(m.calls.filter((c) => c.startsWith('PUT'))).toHaveLength(1);
    expect(second.keyId).toBe(first.keyId);
    expect(second.verify('job.queued', body, first.sign('job.queued', body))).toBe('valid');
  });

  it('fails with EVENT_KEY_UNAVAILABLE (naming both ways out) when the broker refuses, and EVENT_KEY_INVALID for a foreign parameter', async () => {
    const refused = fakeManagement({}, new ManagementApiError(401, 'refused'));
    await expect(loadJobEventKeyring({ ...base, management: refused.client })).rejects.toMatchObject({
      code: 'EVENT_KEY_UNAVAILABLE',
      message: expect.stringMatching(/policymaker or administrator.*WARREN_EVENT_KEY/),
    });
    const foreign = fakeManagement({ [eventKeyParameterName('prod')]: { key: 'short' } });
    await expect(loadJobEventKeyring({ ...base, management: foreign.client })).rejects.toMatchObject({ code: 'EVENT_KEY_INVALID' });
  });
});
