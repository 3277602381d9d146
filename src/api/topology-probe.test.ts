import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { BrokerConnection } from '../broker/broker-connection.ts';
import { createLogger } from '../observability/logger.ts';
import { createTopologyProbe, isMissing } from './topology-probe.ts';

/** What amqplib rejects a passive declare with when the broker has no such exchange (seen on RabbitMQ 3.10). */
function notFound(name: string): Error {
  return Object.assign(new Error(`Operation failed: ExchangeDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - no exchange '${name}' in vhost '/'"`), { code: 404 });
}
/** What it rejects with when the broker closes the connection while it restarts. */
const SHUTDOWN = Object.assign(new Error('Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\'"'), { code: 320 });
/** ... and when the socket is gone before the answer arrives. */
const CHANNEL_ENDED = new Error('Channel ended, no reply will be forthcoming');

/** A connection whose channels answer each checkExchange with `answer(name)` (undefined: it exists). */
function fakeConnection(answer: (name: string) => Error | undefined): BrokerConnection {
  const conn = {
    createChannel: async () => ({
      on: () => undefined,
      close: async () => undefined,
      checkExchange: async (name: string) => {
        const err = answer(name);
        if (err) throw err;
        return {};
      },
      checkQueue: async () => ({}),
    }),
  } as unknown as ChannelModel;
  return {
    current: () => conn,
    isConnected: () => true,
    waitForConnection: async () => conn,
    onConnect: () => () => undefined,
    onDisconnect: () => () => undefined,
    currentUrl: () => undefined,
    close: async () => undefined,
  };
}

function capturingLogger() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const destination = { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: 'warn', destination }), lines };
}

describe('topology probe', () => {
  it('a missing exchange means the topology is not applied, and says so once', async () => {
    const { logger, lines } = capturingLogger();
    const probe = createTopologyProbe({ connection: fakeConnection((n) => (n === 'llm.jobs' ? notFound(n) : undefined)), exchanges: ['warren.events', 'llm.jobs'], queues: ['warren.events.log'], logger });
    expect(await probe.check()).toBe(false);
    expect(await probe.check()).toBe(false);
    probe.close();
    expect(lines.map((l) => [l.msg, l.missing])).toEqual([['topology not applied yet: run warren topology apply', "exchange 'llm.jobs'"]]);
  });

  it('a connection that fails mid-check (broker restarting) is "broker unreachable, retrying", never "run warren topology apply"', async () => {
    const { logger, lines } = capturingLogger();
    let failure: Error | undefined;
    const probe = createTopologyProbe({ connection: fakeConnection(() => failure), exchanges: ['llm.jobs'], queues: [], logger });
    expect(await probe.check()).toBe(true);
    for (const err of [SHUTDOWN, CHANNEL_ENDED]) {
      failure = err;
      // Nothing is known about the topology while the broker is away: the last answer stands.
      expect(await probe.check()).toBe(true);
    }
    failure = undefined;
    expect(await probe.check()).toBe(true);
    failure = SHUTDOWN;
    await probe.check();
    probe.close();
    expect(lines.map((l) => l.msg)).toEqual(['broker unreachable, retrying the topology check', 'broker unreachable, retrying the topology check']);
    expect(lines[0]?.err).toContain('CONNECTION_FORCED');
  });

  it('tells "not there" (404) from "broker not answering" (anything else, or a 404 for a durable queue whose node is down)', () => {
    expect(isMissing(notFound('x'))).toBe(true);
    expect(isMissing(SHUTDOWN)).toBe(false);
    expect(isMissing(CHANNEL_ENDED)).toBe(false);
    expect(isMissing(Object.assign(new Error("NOT_FOUND - home node 'rabbit@a' of durable queue 'q' in vhost '/' is down or inaccessible"), { code: 404 }))).toBe(false);
  });
});
