import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { HEADERS } from './headers.ts';
import { createJobEventPublisher, jobEventProperties } from './job-event-publisher.ts';
import { createJobEventKeyring } from './job-event-signature.ts';

const keys = createJobEventKeyring('a-test-secret-0123456789', 'vh');
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('job-event message properties', () => {
  it('are persistent, mandatory, signed, and stamped in seconds like every message warren writes', () => {
    const content = Buffer.from('{"jobId":"j"}');
    const p = jobEventProperties(keys, 'job.queued', content, 'j');
    expect(p).toMatchObject({ persistent: true, mandatory: true, contentType: 'application/json', appId: 'warren', type: 'job.queued', correlationId: 'j' });
    expect(p.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.timestamp).toBeLessThanOrEqual(nowSeconds());
    expect(p.timestamp).toBeGreaterThan(nowSeconds() - 5);
    expect(keys.verify('job.queued', content, p.headers[HEADERS.eventSignature])).toBe('valid');
    expect(jobEventProperties(keys, 'job.batch', content)).not.toHaveProperty('correlationId');
  });

  it('createJobEventPublisher writes them', async () => {
    const sent: PublishRequest[] = [];
    const events = createJobEventPublisher({ publish: async (r) => void sent.push(r) }, { exchange: 'ev' }, 'dlq', keys);
    await events.emit({ jobId: 'j1', status: 'requeued', attempt: 1 });
    expect(sent[0]?.properties).toMatchObject({ correlationId: 'j1', type: 'job.requeued' });
    expect(sent[0]?.properties?.timestamp).toBeLessThanOrEqual(nowSeconds());
  });
});
