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

  async function checkOnce(): Promise<boolean> {
    const conn = options.connection.current();
    if (!conn) return applied;
    let missing = '';
    const ch = await conn.createChannel().catch(() => undefined);
    if (!ch) return applied;
    // A failed passive declare closes the channel: swallow the event, the promise rejection says it all.
    ch.on('error', () => undefined);
    try {
      for (const e of options.exchanges) {
        missing = `exchange '${e}'`;
        await ch.checkExchange(e);
      }
      for (const q of options.queues) {
        missing = `queue '${q}'`;
        await ch.checkQueue(q);
      }
      missing = '';
      await ch.close().catch(() => undefined);
    } catch {
      // The channel is closed by the broker already.
    }
    if (missing !== '' && missing !== lastMissing) options.logger.warn({ missing }, 'topology not applied yet: run warren topology apply');
    lastMissing = missing;
    return missing === '';
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
