import { loseDelivery, requeueDelivery, type ChannelSession, type Delivery } from './delivery.ts';
import type { WorkerMetrics } from './worker-metrics.ts';

/** Collaborators of {@link createInFlight}. */
export interface InFlightDeps {
  /** Consumer name, the `consumer` label of `warren_jobs_total`. */
  consumer: string;
  /** Counts deliveries dropped with a channel or requeued at shutdown. */
  metrics: WorkerMetrics;
}

/**
 * Every delivery a consumer has received and not yet finished with, whatever
 * its state (held, running, settling): what a closed channel takes away, and
 * what a shutdown drains.
 */
export interface InFlight {
  /** Deliveries in flight. */
  readonly size: number;
  /** Every delivery not yet finished with, in the order received. */
  values(): IterableIterator<Delivery>;
  /** Tracks a delivery just received. */
  add(d: Delivery): void;
  /** Done with `d` (settled, handed back, or lost); wakes a shutdown waiting for the last one. */
  finish(d: Delivery): void;
  /**
   * Marks the unsettled deliveries of a closed channel as lost: their tags mean nothing on
   * any other channel, and the broker redelivers them. Returns how many.
   */
  dropSession(s: ChannelSession): number;
  /** From now on, counts the jobs that finish with an ack or a disposition of their own. */
  beginDrain(): void;
  /** Jobs that finished during the drain. */
  drained(): number;
  /** Resolves once nothing is in flight, or at `deadline` (epoch ms). */
  waitIdle(deadline: number): Promise<void>;
  /** Past the shutdown deadline: hands every unsettled delivery back to the broker and forgets them all. Returns how many were nacked. */
  requeueAll(): number;
}

/** Creates the in-flight set of one consumer. */
export function createInFlight(deps: InFlightDeps): InFlight {
  const { consumer, metrics } = deps;
  const live = new Set<Delivery>();
  let draining = false;
  let drained = 0;
  let idleWaiter: (() => void) | undefined;

  function finish(d: Delivery): void {
    live.delete(d);
    if (draining && d.settled && d.lost === undefined) drained++;
    if (idleWaiter && live.size === 0) idleWaiter();
  }

  return {
    get size() {
      return live.size;
    },
    values: () => live.values(),
    add(d) {
      live.add(d);
    },
    finish,
    dropSession(s) {
      let lost = 0;
      for (const d of live) {
        if (d.session !== s || d.settled) continue;
        d.settled = true;
        loseDelivery(d, 'channel-closed');
        metrics.jobs.inc({ consumer, route: d.route ?? '', outcome: 'dropped' });
        lost++;
        // A running or settling job is finished by its own run when it notices the loss.
        if (d.state === 'buffered') finish(d);
      }
      return lost;
    },
    beginDrain() {
      draining = true;
    },
    drained: () => drained,
    async waitIdle(deadline) {
      if (live.size === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        function done(): void {
          clearTimeout(timer);
          idleWaiter = undefined;
          resolve();
        }
        idleWaiter = done;
      });
    },
    requeueAll() {
      let requeued = 0;
      for (const d of [...live]) {
        if (!d.settled) {
          // A redelivery, not a failure; the handler is aborted below.
          if (requeueDelivery(d)) requeued++;
          metrics.jobs.inc({ consumer, route: d.route ?? '', outcome: 'requeued' });
        }
        loseDelivery(d, 'shutdown');
        live.delete(d);
      }
      return requeued;
    },
  };
}
