import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openRouteTarget, routeTargetKey } from './route-target.ts';
import { TEST_TOPOLOGY } from './test-topology.test-support.ts';

const publisher = { publish: async () => undefined } as never;
const chatBody = (extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra }));

describe('--to-route: a dead letter is checked as a new job on that route would be', () => {
  it('renders the routing key from the payload, then the defaults, with the shared rule', async () => {
    const target = await openRouteTarget({ topology: TEST_TOPOLOGY, publisher }, 'chat');
    expect(routeTargetKey(target, chatBody({ priority: 'realtime' }))).toEqual({ key: 'llm.realtime.chat' });
    expect(routeTargetKey(target, chatBody())).toEqual({ key: 'llm.standard.chat' });
  });

  it("refuses a body that is not JSON, does not match the route's schema, or can't fill the key", async () => {
    const target = await openRouteTarget({ topology: TEST_TOPOLOGY, publisher }, 'chat');
    expect(routeTargetKey(target, Buffer.from('{nope'))).toEqual({ problem: "route 'chat' takes JSON jobs and this message's body is not JSON" });
    const invalid = routeTargetKey(target, Buffer.from('{"type":"t"}'));
    expect('problem' in invalid && invalid.problem).toMatch(/^the job does not match the 'chat-completion' schema of route 'chat': /);
    // 'priority' is an enum of the schema, so a bad value is a schema problem before it is a routing one.
    expect(routeTargetKey(target, chatBody({ priority: 'a.#' }))).toMatchObject({ problem: expect.stringMatching(/schema of route 'chat'/) });
  });

  it('uses the payload schemas it is given (a custom schema), and refuses an unknown route', async () => {
    const topology = { ...TEST_TOPOLOGY, routes: { ...TEST_TOPOLOGY.routes, custom: { ...TEST_TOPOLOGY.routes.task!, routingKey: 'x.{kind}', schema: 'mine' } } };
    const target = await openRouteTarget({ topology, publisher, payloadSchemas: async () => ({ mine: z.object({ kind: z.string() }) }) }, 'custom');
    expect(routeTargetKey(target, Buffer.from('{"kind":"a.b"}'))).toEqual({ problem: "route 'custom': 'kind' fills one word of the routing key 'x.{kind}': use letters, digits, '_' or '-' (1-100 characters)" });
    expect(routeTargetKey(target, Buffer.from('{"kind":"ab"}'))).toEqual({ key: 'x.ab' });
    await expect(openRouteTarget({ topology: TEST_TOPOLOGY, publisher }, 'toString')).rejects.toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });
});
