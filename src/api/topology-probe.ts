import type { BrokerConnection } from '../broker/broker-connection.ts';
import type { Topology } from '../config/topology-schema.ts';
import type { Logger } from '../observability/logger.ts';

/** Whether the objects the API needs exist on the broker. */
export interface TopologyProbe {
  isApplied(): boolean;
  /** Checks now (passive declares on a throwaway channel). */
  check(): Promise<boolean>;
  close(): void;
}

/** Options of {@link createTopologyProbe}. */
export interface TopologyProbeOptions {
  connection: BrokerConnection;
  exchanges: readonly string[];
  queues: readonly string[];
  logger: Logger;
  /** Re-check interval while not applied. @default 2000 */
  retryMs?: number;
  /** Re-check interval once applied (someone may delete things). @default 30000 */
  recheckMs?: number;
}

/** The exchanges and queues the API itself depends on: every route's exchange and the job-events exchange and stream. */
export function apiTopologyNeeds(t: Pick<Topology, 'routes' | 'jobEvents'>): { exchanges: string[]; queues: string[] } {
  return {
    exchanges: [...new Set([...Object.values(t.routes).map((r) => r.exchange), t.jobEvents.exchange])],
    queues: [t.jobEvents.stream],
  };
}

/**
 * True when a passive declare failed because the broker does not have the object
 * (AMQP 404 NOT_FOUND on the channel), as opposed to the connection failing
 * under it. A durable queue whose node is down also answers 404, but says so:
 * that is the broker not being back yet, not a topology to apply.
 */
export function isMissing(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 404 && !/down or inaccessible/.test(String(e.message));
}

/**
 * Answers /readyz's "topology applied" when the composition root has no better
 * source (e.g. it did not apply the topology itself): passive declarations
 * fail with 404 for anything missing, without creating or changing anything.
 */
export function createTopologyProbe(options: TopologyProbeOptions): TopologyProbe {
  let applied = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let lastMissing = '';
  let unreachable = false;

  async function checkOnce(): Promise<boolean> {
    const conn = options.connection.current();
    if (!conn) return applied;
    const ch = await conn.createChannel().catch(() => undefined);
    if (!ch) return applied;
    // A failed passive declare closes the channel: swallow the event, the promise rejection says it all.
    ch.on('error', () => undefined);
    let checking = '';
    try {
      for (const e of options.exchanges) {
        checking = `exchange '${e}'`;
        await ch.checkExchange(e);
      }
      for (const q of options.queues) {
        checking = `queue '${q}'`;
        await ch.checkQueue(q);
      }
      await ch.close().catch(() => undefined);
    } catch (err) {
      // The channel is closed already (by the broker, or with the connection).
      if (!isMissing(err)) {
        // The broker went away mid-check (restart, network): that says nothing about the topology.
        if (!unreachable) options.logger.warn({ err: (err as Error).message }, 'broker unreachable, retrying the topology check');
        unreachable = true;
        return applied;
      }
      unreachable = false;
      if (checking !== lastMissing) options.logger.warn({ missing: checking }, 'topology not applied yet: run warren topology apply');
      lastMissing = checking;
      return false;
    }
    unreachable = false;
    lastMissing = '';
    return true;
  }

  function schedule(): void {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void probe.check(), applied ? (options.recheckMs ?? 30_000) : (options.retryMs ?? 2_000));
    timer.unref();
  }

  const probe: TopologyProbe = {
    isApplied: () => applied,
    check() {
      running ??= checkOnce()
        .then((ok) => (applied = ok))
        .catch(() => applied)
        .finally(() => {
          running = undefined;
          schedule();
        });
      return running;
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
    },
  };
  const unsubscribe = options.connection.onConnect(() => void probe.check());
  return probe;
}
