import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { topologySchema } from '../../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../../jobs/payload-schemas.ts';
import { createTestApp, post } from '../api-test-kit.test-support.ts';

// A transform that changes, in place, a value zod passes through by reference: the parsed request then
// equals zod's output, yet the request text no longer says what the schema made of the job.
const stamping = z.object({ input: z.record(z.string(), z.unknown()) }).transform((v) => {
  (v.input.meta as Record<string, unknown>).stamped = true;
  return v;
});

function appWith(schema: string, schemas: Record<string, z.ZodType> = {}) {
  const topology = topologySchema.parse({
    version: 1,
    exchanges: { jobs: { type: 'direct' } },
    routes: { r: { exchange: 'jobs', routingKey: 'k', schema } },
  });
  return createTestApp({ topology, payloadSchemas: { ...BUILTIN_PAYLOAD_SCHEMAS, ...schemas } });
}

describe('job submitter: the message body', () => {
  it('is the request text as sent when zod returns the payload unchanged', async () => {
    const t = appWith('task');
    const sent = '{ "input": {"n": 1.0, "big": 12345678901234567890},\n "type": "t" }';
    expect((await t.app.request('/v1/jobs/r', post(sent))).status).toBe(202);
    expect(t.publisher.published[0]!.content.toString('utf8')).toBe(sent);
  });

  it("is zod's output, serialised, when the schema stripped an unknown key", async () => {
    const t = appWith('loose', { loose: z.object({ a: z.number() }) });
    expect((await t.app.request('/v1/jobs/r', post('{"a": 1, "extra": 2}'))).status).toBe(202);
    expect(t.publisher.published[0]!.content.toString('utf8')).toBe('{"a":1}');
  });

  it("is zod's output, serialised, when the schema has a transform, even one that left the parsed request equal to it", async () => {
    const t = appWith('stamping', { stamping });
    expect((await t.app.request('/v1/jobs/r', post('{"input": {"meta": {}}}'))).status).toBe(202);
    expect(t.publisher.published[0]!.content.toString('utf8')).toBe('{"input":{"meta":{"stamped":true}}}');
  });
});
