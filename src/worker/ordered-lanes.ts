import { ORDER_HEADERS } from '../jobs/headers.ts';
import { headerString } from '../jobs/header-values.ts';
import type { AmqpHeaders } from '../jobs/job-headers.ts';
import type { BlockBook } from './block-book.ts';
import type { ChannelSession, Delivery } from './delivery.ts';

/** Collaborators of {@link createOrderedLanes}. */
export interface OrderedLanesDeps {
  /** Blocked keys of the ordered queue. */
  book: BlockBook;
  /** Moves a job of a blocked key aside (to the dead-letter target, reason blocked-by-previous-failure); resolves once it is settled. */
  divert(d: Delivery, blockedBy: string): Promise<void>;
}

/**
 * Per-key order inside one partition (docs/ordered-routes.md): deliveries of
 * one key start strictly one after another, each only once the previous one
 * is settled (acked after its publishes), while different keys run side by
 * side up to the consumer's concurrency. A delivery reaching the front of
 * its key whose key is blocked by another job is moved aside instead of run;
 * the blocking job itself (requeued by an operator) runs, and so releases
 * the key when it succeeds.
 */
export interface OrderedLanes {
  /** Queues `d` behind its key's earlier deliveries; `start` runs when its turn comes. */
  admit(d: Delivery, start: () => void): void;
  /** `d` is finished with (settled or lost): its key's next delivery may go. */
  done(d: Delivery): void;
  /** A channel closed: forgets its deliveries (the broker redelivers them, in order). */
  dropSession(s: ChannelSession): void;
  /** Deliveries waiting behind an earlier one of their key. */
  held(): number;
  /** Shutdown: the waiting deliveries, no longer held (they go back with the channel, in delivery order). */
  takeHeld(): Delivery[];
}

/** The order key of a delivery; a message without one (a plain publish) is a key of its own. */
export function orderKeyOf(d: Delivery): string {
  const key = headerString((d.msg.properties.headers as AmqpHeaders | undefined)?.[ORDER_HEADERS.key]);
  return key === undefined || key === '' ? `\u0000${d.msg.properties.messageId ?? d.msg.fields.deliveryTag}` : key;
}

interface Lane {
  /** The delivery of this key started and not yet finished with. */
  active: Delivery | undefined;
  waiting: { d: Delivery; start: () => void }[];
}

/** Creates the lanes of one partition consumer. */
export function createOrderedLanes(deps: OrderedLanesDeps): OrderedLanes {
  const lanes = new Map<string, Lane>();
  const keyOf = new WeakMap<Delivery, string>();
  let heldCount = 0;

  function go(key: string, lane: Lane, d: Delivery, start: () => void): void {
    lane.active = d;
    const by = deps.book.blockedBy(key);
    if (by !== undefined && by !== d.msg.properties.messageId) {
      // Settled by divert; its `done` (from the settle step) lets the next one go.
      void deps.divert(d, by);
      return;
    }
    start();
  }

  function next(key: string, lane: Lane): void {
    while (lane.active === undefined) {
      const w = lane.waiting.shift();
      if (!w) {
        lanes.delete(key);
        return;
      }
      heldCount--;
      if (w.d.settled || w.d.lost) continue;
      go(key, lane, w.d, w.start);
    }
  }

  return {
    admit(d, start) {
      const key = orderKeyOf(d);
      keyOf.set(d, key);
      let lane = lanes.get(key);
      if (!lane) lanes.set(key, (lane = { active: undefined, waiting: [] }));
      if (lane.active === undefined && lane.waiting.length === 0) {
        go(key, lane, d, start);
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
        const before = lane.waiting.length;
        lane.waiting = lane.waiting.filter((w) => w.d.session !== s);
        heldCount -= before - lane.waiting.length;
        if (lane.active?.session === s) lane.active = undefined;
        next(key, lane);
      }
    },
    held: () => heldCount,
    takeHeld() {
      const out: Delivery[] = [];
      for (const lane of lanes.values()) for (const w of lane.waiting) out.push(w.d);
      lanes.clear();
      heldCount = 0;
      return out.sort((a, b) => a.msg.fields.deliveryTag - b.msg.fields.deliveryTag);
    },
  };
}
