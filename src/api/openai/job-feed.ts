import type { ReplyMessage } from '../../jobs/reply-messages.ts';
import type { JobStatusIndex } from '../status/job-status-index.ts';
import type { JobStatusView } from '../status/job-status.ts';
import type { ReplyListener } from './reply-listener.ts';

/** What a front-door request hears about its job, in arrival order. */
export type FeedItem = ReplyMessage | { kind: 'view'; view: JobStatusView };

/** The end of a wait that brought nothing. */
export type FeedEnd = 'timeout' | 'aborted';

/**
 * One job's two sources merged into one queue: the live replies the worker
 * sends to this replica (fast, may be lost) and the job's status views from
 * the job events (durable, slower). Opened before the job is published, so
 * nothing is missed.
 */
export interface JobFeed {
  /** The next item, or why none came before `deadline` (epoch ms). */
  next(deadline: number): Promise<FeedItem | FeedEnd>;
  /** The next item if one is there already, without waiting (undefined otherwise, and once closed). */
  poll(): FeedItem | undefined;
  close(): void;
}

/** Opens the feed of `jobId`; `signal` (the client's request) ends waits with `aborted`. */
export function openJobFeed(deps: { replies: ReplyListener | undefined; index: JobStatusIndex }, jobId: string, signal: AbortSignal): JobFeed {
  const items: FeedItem[] = [];
  let wake: (() => void) | undefined;
  const push = (item: FeedItem): void => {
    items.push(item);
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unwatch = deps.replies?.watch(jobId, push);
  const unsubscribe = deps.index.subscribe(jobId, (view) => push({ kind: 'view', view }));
  const onAbort = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  signal.addEventListener('abort', onAbort);
  let closed = false;

  return {
    async next(deadline) {
      for (;;) {
        const item = items.shift();
        if (item !== undefined) return item;
        if (signal.aborted || closed) return 'aborted';
        const left = deadline - Date.now();
        if (left <= 0) return 'timeout';
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            wake = undefined;
            resolve();
          }, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    poll() {
      return closed ? undefined : items.shift();
    },
    close() {
      if (closed) return;
      closed = true;
      unwatch?.();
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      onAbort();
    },
  };
}
