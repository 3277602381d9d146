import type { ChannelModel } from 'amqplib';

/**
 * Whether an exchange exists, asked over AMQP with a passive declare on a
 * throwaway channel (a missing exchange closes that channel, never the
 * publisher's). AMQP compares the name exactly: the management API's URL path
 * would resolve `..` away and answer for another resource. One answer per name
 * and run. True when the broker can't tell (the publish then reports its own
 * error); `''` (the default exchange) always exists.
 */
export function createExchangeProbe(connection: ChannelModel): (exchange: string) => Promise<boolean> {
  const cache = new Map<string, Promise<boolean>>();
  async function check(exchange: string): Promise<boolean> {
    let channel;
    try {
      channel = await connection.createChannel();
    } catch {
      return true;
    }
    channel.on('error', () => undefined);
    try {
      await channel.checkExchange(exchange);
      await channel.close().catch(() => undefined);
      return true;
    } catch (err) {
      return !/NOT_FOUND/.test((err as Error).message);
    }
  }
  return (exchange) => {
    if (exchange === '') return Promise.resolve(true);
    let hit = cache.get(exchange);
    if (!hit) {
      hit = check(exchange);
      cache.set(exchange, hit);
    }
    return hit;
  };
}
