import type { Channel, Message } from 'amqplib';

/** Acks of one channel, coalesced per event-loop turn. */
export interface AckBatcher {
  /** Queues an ack of `tag`; it is written at the end of the current event-loop turn. */
  ack(tag: number): void;
  /** Records a tag settled some other way (nack), so later multiple-acks may reach past it. */
  settled(tag: number): void;
  /** Writes the queued acks now (before closing the channel). */
  flush(): void;
}

/** True when `tags` are exactly from, from + 1, ... in that order. */
function inOrderFrom(tags: readonly number[], from: number): boolean {
  for (let i = 0; i < tags.length; i++) if (tags[i] !== from + i) return false;
  return true;
}

/**
 * Writes the acks queued in one event-loop turn as few frames as possible:
 * when every delivery up to a queued tag is settled, one `basic.ack` with
 * `multiple` covers them all; the rest are acked one by one. A multiple ack
 * only ever ends on a tag that is being acked now and is still unacked, and
 * only covers tags that are all settled, so it can never ack a job still in
 * progress or name an unknown tag (a 406 would close the channel). Fast jobs
 * finish roughly in delivery order, so most turns write one frame instead of
 * dozens, which saves the worker and the broker a syscall and a queue
 * command per job.
 */
export function createAckBatcher(channel: Channel, options: { isOpen: () => boolean; onError?: (err: Error) => void }): AckBatcher {
  /** Lowest tag not yet known to be settled (delivery tags start at 1 on every channel). */
  let low = 1;
  /** Settled tags >= low (acked now or earlier, or nacked). */
  const done = new Set<number>();
  let queued: number[] = [];
  let scheduled: NodeJS.Immediate | undefined;

  const send = (tag: number, multiple: boolean): void => {
    channel.ack({ fields: { deliveryTag: tag } } as Message, multiple);
  };

  function flush(): void {
    if (scheduled !== undefined) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    if (queued.length === 0) return;
    const tags = queued;
    queued = [];
    if (!options.isOpen()) return;
    if (done.size === 0 && inOrderFrom(tags, low)) {
      // The usual turn: jobs finished in delivery order, nothing settled out of order before.
      // Same frame as the walk below would write, without a set operation per tag.
      const top = low + tags.length - 1;
      low = top + 1;
      try {
        send(top, true);
      } catch (err) {
        options.onError?.(err as Error);
      }
      return;
    }
    const now = new Set(tags);
    for (const t of tags) done.add(t);
    // Walk the contiguous settled prefix; remember the last tag in it that is acked in this flush.
    let top = 0;
    while (done.has(low)) {
      if (now.has(low)) top = low;
      done.delete(low);
      low++;
    }
    try {
      if (top > 0) send(top, true);
      for (const t of tags) if (t > top && t >= low) send(t, false);
    } catch (err) {
      // The channel closed under us: the broker redelivers whatever was not acked.
      options.onError?.(err as Error);
    }
  }

  return {
    flush,
    ack(tag) {
      queued.push(tag);
      scheduled ??= setImmediate(flush);
    },
    settled(tag) {
      if (tag >= low) done.add(tag);
    },
  };
}
