import { describe, expect, it } from 'vitest';
import { topologySchema } from '../config/topology-schema.ts';
import { BUILTIN_PAYLOAD_SCHEMAS } from '../jobs/payload-schemas.ts';
import { createPayloadValidator, inferRoute } from './payload-validator.ts';

const topology = topologySchema.parse({
  version: 1,
  exchanges: { jobs: { type: 'direct' }, other: { type: 'direct' } },
  queues: { chat: {}, tasks: {}, shared: {} },
  bindings: [
    { source: 'jobs', queue: 'chat', routingKey: 'chat' },
    { source: 'other', queue: 'tasks', routingKey: 't' },
    { source: 'jobs', queue: 'shared', routingKey: 's' },
    { source: 'other', queue: 'shared', routingKey: 's' },
  ],
  routes: { chat: { exchange: 'jobs', routingKey: 'chat', schema: 'chat-completion' }, task: { exchange: 'other', routingKey: 't', schema: 'task' } },
  consumers: { chat: { queue: 'chat', handler: 'chat-completion' }, tasks: { queue: 'tasks', handler: 'echo-task' }, shared: { queue: 'shared', handler: 'echo-task' } },
});

describe('payload validator', () => {
  it('infers the one route bound to the queue, and none when it is ambiguous', () => {
    expect(inferRoute(topology, 'chat')).toBe('chat');
    expect(inferRoute(topology, 'tasks')).toBe('task');
    expect(inferRoute(topology, 'shared')).toBeUndefined();
  });

  it("validates with the route's schema and returns the parsed payload", () => {
    const v = createPayloadValidator(topology, topology.consumers.tasks!, BUILTIN_PAYLOAD_SCHEMAS);
    expect(v.validate(Buffer.from('{"type":"x"}'), undefined)).toEqual({ ok: true, payload: { type: 'x', input: {} }, route: 'task' });
  });

  it('refuses non-JSON and schema violations with a readable reason', () => {
    const v = createPayloadValidator(topology, topology.consumers.chat!, BUILTIN_PAYLOAD_SCHEMAS);
    const notJson = v.validate(Buffer.from('{"model":'), 'chat');
    expect(notJson.ok).toBe(false);
    expect(!notJson.ok && notJson.message).toMatch(/^payload is not JSON: /);
    const bad = v.validate(Buffer.from('{"model":"m","messages":[],"extra":1}'), 'chat');
    expect(!bad.ok && bad.message).toMatch(/^payload does not match schema 'chat-completion' of route 'chat': /);
  });

  it('uses the message route header when the consumer names none and accepts any JSON without a route', () => {
    const v = createPayloadValidator(topology, topology.consumers.shared!, BUILTIN_PAYLOAD_SCHEMAS);
    expect(v.validate(Buffer.from('{"type":"x"}'), 'task')).toMatchObject({ ok: true, route: 'task' });
    expect(v.validate(Buffer.from('[1,2]'), undefined)).toEqual({ ok: true, payload: [1, 2], route: undefined });
  });

  it("a route header naming an inherited member (toString, constructor) is no route: the inferred route's schema still applies", () => {
    const v = createPayloadValidator(topology, topology.consumers.tasks!, BUILTIN_PAYLOAD_SCHEMAS);
    for (const forged of ['toString', 'constructor', '__proto__']) {
      expect(v.validate(Buffer.from('{"type":"x"}'), forged), forged).toMatchObject({ ok: true, route: 'task' });
      expect(v.validate(Buffer.from('{"type":"x","extra":1}'), forged), forged).toMatchObject({ ok: false });
    }
  });
});

describe('payload validator output', () => {
  it("returns zod's output: the payload as sent, defaults filled in, unknown keys refused", () => {
    const v = createPayloadValidator(topology, topology.consumers.tasks!, BUILTIN_PAYLOAD_SCHEMAS);
    expect(v.validate(Buffer.from('{"type":"x","input":{"i":1}}'), undefined)).toEqual({ ok: true, payload: { type: 'x', input: { i: 1 } }, route: 'task' });
    expect(v.validate(Buffer.from('{"type":"x"}'), undefined)).toEqual({ ok: true, payload: { type: 'x', input: {} }, route: 'task' });
    const bad = v.validate(Buffer.from('{"type":"x","input":{},"extra":1}'), undefined);
    expect(!bad.ok && bad.message).toMatch(/^payload does not match schema 'task' of route 'task': /);
  });
});
