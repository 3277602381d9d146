import { describe, expect, it } from 'vitest';
import { routeSchema } from '../config/topology-schema.ts';
import { PermanentJobError } from '../errors/index.ts';
import { renderRoutingKey } from './route-publisher.ts';

describe('renderRoutingKey', () => {
  const route = routeSchema.parse({ exchange: 'llm.jobs', routingKey: 'llm.{priority}.chat', schema: 'chat-completion', defaults: { priority: 'standard' } });
  it('fills placeholders from the payload, then the defaults', () => {
    expect(renderRoutingKey('chat', route, { priority: 'realtime' })).toBe('llm.realtime.chat');
    expect(renderRoutingKey('chat', route, {})).toBe('llm.standard.chat');
  });
  it('refuses missing values and values that would change the routing', () => {
    const noDefault = routeSchema.parse({ exchange: 'x', routingKey: 'a.{tier}', schema: 'task' });
    expect(() => renderRoutingKey('r', noDefault, {})).toThrow(PermanentJobError);
    expect(() => renderRoutingKey('chat', route, { priority: 'a.#' })).toThrow(/can't be part of a routing key/);
  });
});
