import { describe, expect, it } from 'vitest';
import type { PublishRequest } from '../broker/confirm-publisher.ts';
import { topologySchema } from '../config/topology-schema.ts';
import { JobPublishError, PermanentJobError, PublishRejectedError } from '../errors/index.ts';
import { HEADERS } from '../jobs/headers.ts';
import type { JobEvent } from '../jobs/job-event.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { compileRoutes } from '../jobs/route-catalog.ts';
import { createSubmitter } from '../submit/submitter.ts';
import { createRoutePublisher } from './route-publisher.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { 'llm.jobs': { type: 'topic' } },
  routes: {
    chat: { exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } },
    tier: { exchange: 'llm.jobs', routingKey: 'llm.{tier}.chat', schema: 'chat-completion' },
  },
});
const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function setup(fail?: Error, payloadBytes?: number) {
  const published: PublishRequest[] = [];
  const events: JobEvent[] = [];
  const publisher = {
    publish: async (r: PublishRequest) => {
      if (fail) throw fail;
      published.push(r);
    },
  };
  const submitter = createSubmitter({ routes: compileRoutes(topology, BUILTIN_PAYLOAD_SCHEMAS), publisher, appId: 'warren-worker' });
  const routes = createRoutePublisher({ submitter, publisher, events: { emit: async (e) => void events.push(e as JobEvent) }, ...(payloadBytes === undefined ? {} : { payloadBytes }) });
  return { routes, published, events };
}

describe('ctx.publish (publishJob) goes through the submit use case', () => {
  it('validates, renders the key with the shared rule, publishes a first-publish message and a queued event', async () => {
    const { routes, published, events } = setup();
    const id = await routes.publishJob('chat', { ...chat, priority: 'realtime' }, { [HEADERS.traceparent]: TRACE });
    const [m] = published;
    expect(m).toMatchObject({ exchange: 'llm.jobs', routingKey: 'llm.realtime.chat' });
    expect(m?.properties).toMatchObject({ messageId: id, correlationId: id, appId: 'warren-worker', persistent: true, mandatory: true, headers: { [HEADERS.route]: 'chat', [HEADERS.traceparent]: TRACE } });
    expect(m?.properties?.timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(JSON.parse(String(m?.content))).toMatchObject({ priority: 'realtime' });
    expect(events).toEqual([{ jobId: id, status: 'queued', route: 'chat', attempt: 1 }]);
  });

  it("writes the follow-up's body on its queued event up to jobEvents.payloadBytes, as the API does for its jobs", async () => {
    const { routes, published, events } = setup(undefined, 32);
    const id = await routes.publishJob('chat', chat);
    const body = String(published[0]?.content);
    expect(body.length).toBeGreaterThan(32);
    expect(events).toEqual([{ jobId: id, status: 'queued', route: 'chat', attempt: 1, payload: body.slice(0, 32), payloadBytes: body.length }]);
  });

  it('a follow-up that can never be valid fails the parent job permanently, naming the route', async () => {
    const { routes, published } = setup();
    await expect(routes.publishJob('chat', { model: 'x' })).rejects.toThrow(PermanentJobError);
    await expect(routes.publishJob('chat', { model: 'x' })).rejects.toThrow(/follow-up job for route 'chat' does not match schema 'chat-completion'/);
    await expect(routes.publishJob('tier', chat)).rejects.toThrow(/needs 'tier'/);
    // The API's strict value rule, not the worker's old "anything but . # * and spaces".
    await expect(routes.publishJob('chat', { ...chat, priority: 'ü' })).rejects.toThrow(PermanentJobError);
    await expect(routes.publishJob('nope', chat)).rejects.toThrow(/unknown route 'nope'/);
    expect(published).toEqual([]);
  });

  it('a broker refusal is not permanent: it stays a typed publish error for the disposition table', async () => {
    const { routes } = setup(new PublishRejectedError('full'));
    const err = await routes.publishJob('chat', chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobPublishError);
    expect(err).not.toBeInstanceOf(PermanentJobError);
    expect((err as JobPublishError).code).toBe('PUBLISH_REJECTED');
  });
});

describe('forward', () => {
  it('renders the fallback key with the shared rule and republishes the body untouched', async () => {
    const { routes, published } = setup();
    const content = Buffer.from('{"model":"gpt-4o","messages":[],"tier":"small"}');
    await routes.forward('tier', { content, properties: { headers: { [HEADERS.route]: 'chat', userId: 'x' }, messageId: 'job-1', deliveryMode: 2 } as never }, { tier: 'small' });
    expect(published[0]).toMatchObject({ exchange: 'llm.jobs', routingKey: 'llm.small.chat', content });
    expect(published[0]?.properties?.headers).toMatchObject({ [HEADERS.route]: 'tier', [HEADERS.attempt]: 1, [HEADERS.forwardedFrom]: 'chat', [HEADERS.forwardedTo]: 'tier' });
  });

  it('a fallback the payload cannot fill is a permanent failure (the settler dead-letters instead)', async () => {
    const { routes, published } = setup();
    await expect(routes.forward('tier', { content: Buffer.from('{}'), properties: { headers: {} } as never }, { tier: 'a.#' })).rejects.toThrow(PermanentJobError);
    await expect(routes.forward('nope', { content: Buffer.from('{}'), properties: { headers: {} } as never }, {})).rejects.toThrow(PermanentJobError);
    expect(published).toEqual([]);
  });
});
