import { ORDER_HEADERS } from '../jobs/headers.ts';
import { headerString } from '../jobs/header-values.ts';
import type { AmqpHeaders } from '../jobs/job-headers.ts';
import { RELEASE_END_TYPE } from '../jobs/ordering.ts';
import type { BlockBook } from './block-book.ts';
import type { ChannelSession, Delivery } from './delivery.ts';

/** Collaborators of {@link createOrderedLanes}. */
export interface OrderedLanesDeps {
  /** Blocked keys of the ordered queue. */
  book: BlockBook;
  /** Moves a job of a blocked key aside (to the dead-letter target, reason blocked-by-previous-failure); resolves once it is settled. */
  divert(d: Delivery, blockedBy: string): Promise<void>;
  /** Acks a requeue's end marker (it is finished with at once). */
  settleMarker(d: Delivery): void;
  /** Longest wait for a requeue's end marker before held jobs go on anyway. @default 30000 */
  drainTimeoutMs?: number;
}

/**
 * Per-key order inside one partition (docs/ordered-routes.md): deliveries of
 * one key start strictly one after another, each only once the previous one
 * is settled (acked after its publishes), while different keys run side by
 * side up to the consumer's concurrency. A delivery reaching the front of
 * its key whose key is blocked by another job is moved aside instead of run;
 * the blocking job itself (requeued by an operator) runs, and so releases
 * the key when it succeeds.
 *
 * From the moment a requeued blocking job starts until the requeue's end
 * marker passes (or `drainTimeoutMs`), the key's new jobs are held back (not
 * started, still unacked) while the jobs the requeue brought back (the
 * blocking job, and jobs with its id in `x-warren-blocked-by`) go on: a job
 * published during the requeue then runs after the requeued ones.
 */
export interface OrderedLanes {
  /** Queues `d` behind its key's earlier deliveries; `start` runs when its turn comes. */
  admit(d: Delivery, start: () => void): void;
  /** `d` is finished with (settled or lost): its key's next delivery may go. */
  done(d: Delivery): void;
  /** A channel closed: forgets its deliveries (the broker redelivers them, in order). */
  dropSession(s: ChannelSession): void;
  /** Deliveries waiting behind an earlier one of their key (or held back during a requeue). */
  held(): number;
  /** Shutdown: the waiting deliveries, no longer held (they go back with the channel, in delivery order). */
  takeHeld(): Delivery[];
}

/** The order key of a delivery; a message without one (a plain publish) is a key of its own. */
export function orderKeyOf(d: Delivery): string {
  const key = headerString((d.msg.properties.headers as AmqpHeaders | undefined)?.[ORDER_HEADERS.key]);
  return key === undefined || key === '' ? `\u0000${d.msg.properties.messageId ?? d.msg.fields.deliveryTag}` : key;
}

/** The blocking job a delivery names (a job moved aside, or a requeue's end marker). */
function blockedByOf(d: Delivery): string | undefined {
  return headerString((d.msg.properties.headers as AmqpHeaders | undefined)?.[ORDER_HEADERS.blockedBy]);
}

/** True for a requeue's end marker (not a job). */
export function isReleaseEnd(d: Delivery): boolean {
  return d.msg.properties.type === RELEASE_END_TYPE;
}

interface Waiting {
  d: Delivery;
  start: () => void;
}

interface Lane {
  /** The delivery of this key started and not yet finished with. */
  active: Delivery | undefined;
  waiting: Waiting[];
  /** Set while a requeued blocking job's batch passes: its id. */
  draining: string | undefined;
  /** New jobs held back while draining, in order. */
  parked: Waiting[];
  drainTimer: NodeJS.Timeout | undefined;
}

/** Creates the lanes of one partition consumer. */
export function createOrderedLanes(deps: OrderedLanesDeps): OrderedLanes {
  const lanes = new Map<string, Lane>();
  const keyOf = new WeakMap<Delivery, string>();
  const drainTimeoutMs = deps.drainTimeoutMs ?? 30_000;
  let heldCount = 0;

  function endDrain(key: string, lane: Lane): void {
    if (lane.drainTimer) clearTimeout(lane.drainTimer);
    lane.drainTimer = undefined;
    lane.draining = undefined;
    // The held-back jobs are older than anything still waiting: they go first, in their order.
    lane.waiting = [...lane.parked, ...lane.waiting];
    lane.parked = [];
    next(key, lane);
  }

  function startDrain(key: string, lane: Lane, by: string): void {
    lane.draining = by;
    // Held jobs go on after this (moved aside if the key is still blocked then): never a stall.
    lane.drainTimer = setTimeout(() => endDrain(key, lane), drainTimeoutMs);
    lane.drainTimer.unref();
  }

  /** Takes `w` at the front of its key; false when it was held back (the lane stays free). */
  function go(key: string, lane: Lane, w: Waiting): boolean {
    const { d } = w;
    if (isReleaseEnd(d)) {
      if (lane.draining !== undefined && lane.draining === blockedByOf(d)) {
        // The requeue's batch has passed: the held-back jobs (older than anything still waiting) go first.
        if (lane.drainTimer) clearTimeout(lane.drainTimer);
        lane.drainTimer = undefined;
        lane.draining = undefined;
        lane.waiting = [...lane.parked, ...lane.waiting];
        lane.parked = [];
      }
      lane.active = d;
      // Acked and finished with at once: its `done` lets the next one go.
      deps.settleMarker(d);
      return true;
    }
    const id = d.msg.properties.messageId;
    const by = deps.book.blockedBy(key);
    if (lane.draining === undefined && by !== undefined && by !== id && deps.book.releasing(key, by)) {
      // A requeue is sending the blocking job back: hold the key's new jobs for it instead of moving them aside.
      startDrain(key, lane, by);
    }
    if (lane.draining !== undefined && id !== lane.draining && blockedByOf(d) !== lane.draining) {
      lane.parked.push(w);
      heldCount++;
      return false;
    }
    lane.active = d;
    // The blocking job is back: hold the key's new jobs until the requeue's batch has passed.
    if (by !== undefined && by === id && lane.draining === undefined) startDrain(key, lane, by);
    if (by !== undefined && by !== id) {
      // Settled by divert; its `done` (from the settle step) lets the next one go.
      void deps.divert(d, by);
      return true;
    }
    w.start();
    return true;
  }

  function next(key: string, lane: Lane): void {
    while (lane.active === undefined) {
      const w = lane.waiting.shift();
      if (!w) {
        if (lane.parked.length === 0 && lane.draining === undefined) lanes.delete(key);
        return;
      }
      heldCount--;
      if (w.d.settled || w.d.lost) continue;
      go(key, lane, w);
    }
  }

  return {
    admit(d, start) {
      const key = orderKeyOf(d);
      keyOf.set(d, key);
      let lane = lanes.get(key);
      if (!lane) lanes.set(key, (lane = { active: undefined, waiting: [], draining: undefined, parked: [], drainTimer: undefined }));
      if (lane.active === undefined && lane.waiting.length === 0) {
        go(key, lane, { d, start });
        return;
      }
      lane.waiting.push({ d, start });
      heldCount++;
    },
    done(d) {
      const key = keyOf.get(d);
      if (key === undefined) return;
      const lane = lanes.get(key);
      if (!lane || lane.active !== d) return;
      lane.active = undefined;
      next(key, lane);
    },
    dropSession(s) {
      for (const [key, lane] of lanes) {
        const before = lane.waiting.length + lane.parked.length;
        lane.waiting = lane.waiting.filter((w) => w.d.session !== s);
        lane.parked = lane.parked.filter((w) => w.d.session !== s);
        heldCount -= before - lane.waiting.length - lane.parked.length;
        if (lane.active?.session === s) lane.active = undefined;
        // The broker redelivers the whole batch (blocking job included): draining starts again with it.
        if (lane.drainTimer) clearTimeout(lane.drainTimer);
        lane.drainTimer = undefined;
        lane.draining = undefined;
        lane.waiting = [...lane.parked, ...lane.waiting];
        lane.parked = [];
        next(key, lane);
      }
    },
    held: () => heldCount,
    takeHeld() {
      const out: Delivery[] = [];
      for (const lane of lanes.values()) {
        if (lane.drainTimer) clearTimeout(lane.drainTimer);
        for (const w of [...lane.parked, ...lane.waiting]) out.push(w.d);
      }
      lanes.clear();
      heldCount = 0;
      return out.sort((a, b) => a.msg.fields.deliveryTag - b.msg.fields.deliveryTag);
    },
  };
}
