import { describe, expect, it } from 'vitest';
import { RoutingKeyError } from '../errors/index.ts';
import { compileRoutingKey } from './routing-key.ts';

function renderError(fn: () => unknown): RoutingKeyError | undefined {
  try {
    fn();
  } catch (e) {
    return e as RoutingKeyError;
  }
  return undefined;
}

describe('routing key template', () => {
  const t = compileRoutingKey('llm.{priority}.{task}');

  it('fills from the payload, then defaults', () => {
    expect(t.fields).toEqual(['priority', 'task']);
    expect(t.render({ priority: 'realtime', task: 'chat' }, {})).toBe('llm.realtime.chat');
    expect(t.render({ task: 'chat' }, { priority: 'standard' })).toBe('llm.standard.chat');
    expect(t.render({ priority: 3, task: true }, {})).toBe('llm.3.true');
    expect(t.render({ priority: null, task: 'x' }, { priority: 'batch' })).toBe('llm.batch.x');
  });

  it('ROUTING_FIELD_MISSING when neither the job nor the defaults give a value (inherited members are no value)', () => {
    const err = renderError(() => t.render({ task: 'x' }, {}));
    expect(err).toBeInstanceOf(RoutingKeyError);
    expect(err).toMatchObject({ code: 'ROUTING_FIELD_MISSING', field: 'priority', message: "the routing key 'llm.{priority}.{task}' needs 'priority': set it in the job (no default is configured)" });
    expect(err?.details).toEqual([{ path: 'priority', message: 'required to build the routing key' }]);
    expect(renderError(() => compileRoutingKey('x.{toString}').render({}, {}))?.code).toBe('ROUTING_FIELD_MISSING');
  });

  it('ROUTING_FIELD_INVALID for anything but one safe word, from the job or a default', () => {
    for (const bad of ['a.b', '#', '*', '', 'ü', 'a b', 'x'.repeat(101), 1.5]) {
      const err = renderError(() => t.render({ priority: bad, task: 'x' }, {}));
      expect(err, String(bad)).toBeInstanceOf(RoutingKeyError);
      expect(err?.code).toBe('ROUTING_FIELD_INVALID');
    }
    expect(renderError(() => t.render({ task: 'x' }, { priority: 'a.#' }))?.code).toBe('ROUTING_FIELD_INVALID');
  });

  it('ROUTING_KEY_TOO_LONG when the filled key passes 255 bytes (three 100-character values), so the API answers 400, not a broker error', () => {
    const three = compileRoutingKey('a.{x}.{y}.{z}');
    expect(three.render({ x: 'x'.repeat(100), y: 'y'.repeat(100), z: 'z'.repeat(51) }, {})).toHaveLength(255);
    const err = renderError(() => three.render({ x: 'x'.repeat(100), y: 'y'.repeat(100), z: 'z'.repeat(52) }, {}));
    expect(err).toBeInstanceOf(RoutingKeyError);
    expect(err).toMatchObject({ code: 'ROUTING_KEY_TOO_LONG', field: 'z' });
    expect(err?.details).toEqual([{ path: 'z', message: 'the rendered routing key must be at most 255 bytes' }]);
  });

  it('a key without placeholders is returned as is', () => {
    expect(compileRoutingKey('default').render(undefined, {})).toBe('default');
  });

  it('matches exactly the keys it can render', () => {
    expect(t.matches('llm.realtime.chat')).toBe(true);
    expect(t.matches('llm.real.time.chat')).toBe(false);
    expect(t.matches('llm..chat')).toBe(false);
    expect(t.matches('llmXrealtime.chat')).toBe(false);
    expect(compileRoutingKey('a.b').matches('a.b')).toBe(true);
  });
});
