import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { topologySchema } from '../config/topology-schema.ts';
import { JobPublishError, JobValidationError, RoutingKeyError, UnknownRouteError, UnroutableError } from '../errors/index.ts';
import { HEADERS } from '../jobs/headers.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from './submitter.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { jobs: { type: 'topic' } },
  routes: { task: { exchange: 'jobs', routingKey: 'tasks.{type}', schema: 'task', publishTimeout: '3s' } },
});
const meta = { id: 'job-1', correlationId: 'corr-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

function setup(fail?: Error) {
  const sent: PublishRequest[] = [];
  const publisher = { publish: async (r: PublishRequest) => (fail ? Promise.reject(fail) : void sent.push(r)) };
  return { sent, submitter: createSubmitter({ routes: compileRoutes(topology, BUILTIN_PAYLOAD_SCHEMAS), publisher, appId: 'warren-test' }) };
}

describe('the submit use case', () => {
  it('validates, renders the routing key, builds the first-publish message, publishes it with its timeout', async () => {
    const { submitter, sent } = setup();
    const job = await submitter.submit('task', { type: 'resize', input: { w: 1 } }, meta);
    expect(job).toMatchObject({ id: 'job-1', route: 'task', exchange: 'jobs', routingKey: 'tasks.resize', timeoutMs: 3000, meta });
    expect(sent).toEqual([job]);
    expect(job.properties).toMatchObject({ messageId: 'job-1', correlationId: 'corr-1', appId: 'warren-test', persistent: true, mandatory: true, headers: { [HEADERS.route]: 'task', [HEADERS.traceparent]: meta.traceparent } });
    expect(JSON.parse(job.content.toString())).toEqual({ type: 'resize', input: { w: 1 } });
  });

  it('publishes the given JSON text when validation leaves the payload unchanged, zod output otherwise', () => {
    const { submitter } = setup();
    const route = submitter.route('task');
    const text = '{ "type": "t", "input": {} }';
    expect(submitter.prepare(route, JSON.parse(text), meta, text).content.toString()).toBe(text);
    // `input` defaulted: the text no longer says what the job is.
    expect(submitter.prepare(route, { type: 't' }, meta, '{"type":"t"}').content.toString()).toBe('{"type":"t","input":{}}');
  });

  it('raises typed errors, never HTTP ones, and publishes nothing for a bad job', async () => {
    const { submitter, sent } = setup();
    await expect(submitter.submit('nope', {}, meta)).rejects.toBeInstanceOf(UnknownRouteError);
    const invalid = await submitter.submit('task', { type: 't', extra: 1 }, meta).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(JobValidationError);
    expect(invalid).toMatchObject({ code: 'VALIDATION_FAILED', route: 'task', schemaName: 'task' });
    expect((invalid as JobValidationError).issues[0]).toMatchObject({ code: 'unrecognized_keys' });
    await expect(submitter.submit('task', { type: 'a.b' }, meta)).rejects.toBeInstanceOf(RoutingKeyError);
    expect(sent).toEqual([]);
  });

  it("wraps the broker's refusal in JobPublishError with the publisher's code and where the job was going", async () => {
    const { submitter } = setup(new UnroutableError('jobs', 'tasks.t'));
    const err = await submitter.submit('task', { type: 't' }, meta).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobPublishError);
    expect(err).toMatchObject({ code: 'UNROUTABLE', target: { route: 'task', exchange: 'jobs', routingKey: 'tasks.t' } });
    expect((err as Error).cause).toBeInstanceOf(UnroutableError);
  });

  it('a plain message to an exchange gets the same first-publish properties, priority and trace included', () => {
    const { submitter } = setup();
    const job = submitter.prepareMessage({ exchange: 'jobs', routingKey: 'k', headers: { a: 1 }, payload: [1], priority: 5, timeoutMs: 1000 }, meta);
    expect(job).toMatchObject({ route: undefined, exchange: 'jobs', routingKey: 'k', timeoutMs: 1000 });
    expect(job.properties).toMatchObject({ priority: 5, appId: 'warren-test', headers: { a: 1, [HEADERS.traceparent]: meta.traceparent } });
    expect(job.content.toString()).toBe('[1]');
  });

  it('target checks a body already written and returns its routing key (a --to-route requeue)', () => {
    const { submitter } = setup();
    const route = submitter.route('task');
    expect(submitter.target(route, { type: 'big' })).toBe('tasks.big');
    expect(() => submitter.target(route, { type: 'big', kind: 'x' })).toThrow(JobValidationError);
  });

  it('leaves traceparent out when the caller has none', () => {
    const { submitter } = setup();
    const job = submitter.prepare(submitter.route('task'), { type: 't' }, { id: 'j', correlationId: 'j', traceparent: undefined });
    expect(job.properties.headers).toEqual({ [HEADERS.route]: 'task' });
  });
});
