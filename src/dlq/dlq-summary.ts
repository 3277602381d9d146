import type { ConsumeMessage } from 'amqplib';
import type { DeadLetterInfo, DeadLetterOrigin } from './dead-letter-info.ts';

/** Counts over the dead letters that matched the filters. */
export interface DlqSummary {
  queue: string;
  /** Ready messages when the read started. */
  total: number;
  /** Messages read (the snapshot, or fewer with --limit). */
  scanned: number;
  /** Messages that passed the filters. */
  matched: number;
  /** True when the queue held more than one read can hold (65,535) or --limit stopped the scan. */
  truncated: boolean;
  byKind: Record<string, number>;
  byRoute: Record<string, number>;
  byReason: Record<string, number>;
  byErrorClass: Record<string, number>;
  byOrigin: Record<string, number>;
  /** Matched messages whose origin can't be determined (a requeue leaves them in place). */
  unknownOrigin: number;
  /** Matched messages already requeued `maxRequeues` times (a requeue skips them). */
  overCap: number;
  maxRequeues: number;
  /** Matched messages an interrupted requeue already delivered to their origin (the next requeue drops them). */
  alreadyRequeued: number;
  /** ISO times of the oldest and newest death among the matched. */
  oldest: string | undefined;
  newest: string | undefined;
  /**
   * Ordered routes (docs/ordered-routes.md): each blocked key among the
   * matched, with the job that blocks it and how many jobs wait behind it.
   * Absent when no matched message belongs to an ordered route.
   */
  blockedKeys?: BlockedKey[];
}

/** A blocked ordering key as `warren dlq list` shows it. */
export interface BlockedKey {
  /** `<api key name>/<key>`. */
  key: string;
  /** The dead-lettered job that blocks the key. */
  blockedBy: string;
  /** Jobs of the key moved aside behind it. */
  waiting: number;
}

/** One dead letter as the list/API shows it. */
export interface DlqMessageView {
  /** Position in the queue (0 = head). */
  index: number;
  messageId: string | undefined;
  jobId: string | undefined;
  kind: DeadLetterInfo['kind'];
  reason: string;
  errorClass: string | undefined;
  errorMessage: string | undefined;
  route: string | undefined;
  origin: DeadLetterOrigin | undefined;
  originProblem: string | undefined;
  failedAt: string | undefined;
  attempts: number | undefined;
  requeued: number;
  redelivered: boolean;
  bodyBytes: number;
  /** The first 200 characters of the body. */
  bodyPreview: string;
  /** Ordered routes: the job's ordering key (`<api key name>/<key>`). */
  orderKey?: string;
  /** Ordered routes: the job that blocks this one (reason blocked-by-previous-failure). */
  blockedBy?: string;
}

const NONE = '(none)';

function bump(map: Record<string, number>, key: string | undefined): void {
  const k = key ?? NONE;
  map[k] = (map[k] ?? 0) + 1;
}

/** Accumulates a {@link DlqSummary}. */
export function createSummaryBuilder(queue: string, total: number, maxRequeues: number) {
  const s: DlqSummary = {
    queue,
    total,
    scanned: 0,
    matched: 0,
    truncated: false,
    byKind: {},
    byRoute: {},
    byReason: {},
    byErrorClass: {},
    byOrigin: {},
    unknownOrigin: 0,
    overCap: 0,
    maxRequeues,
    alreadyRequeued: 0,
    oldest: undefined,
    newest: undefined,
  };
  let oldest = Infinity;
  let newest = -Infinity;
  /** Ordered routes: blocking job id -> its blocked key, in the order first seen. */
  const blocked = new Map<string, BlockedKey>();
  return {
    scanned(): void {
      s.scanned++;
    },
    add(info: DeadLetterInfo, alreadyRequeued: boolean): void {
      s.matched++;
      bump(s.byKind, info.kind);
      bump(s.byRoute, info.route);
      bump(s.byReason, info.reason);
      bump(s.byErrorClass, info.errorClass);
      bump(s.byOrigin, info.origin?.queue ?? (info.origin ? `${info.origin.exchange || '(default)'}/${info.origin.routingKey}` : undefined));
      if (!info.origin) s.unknownOrigin++;
      if (info.requeued >= maxRequeues) s.overCap++;
      if (alreadyRequeued) s.alreadyRequeued++;
      if (info.orderKey !== undefined) {
        const by = info.blockedBy ?? info.messageId;
        if (by !== undefined) {
          const entry = blocked.get(by) ?? { key: info.orderKey, blockedBy: by, waiting: 0 };
          if (info.blockedBy !== undefined) entry.waiting++;
          blocked.set(by, entry);
        }
      }
      if (info.failedAt !== undefined) {
        oldest = Math.min(oldest, info.failedAt);
        newest = Math.max(newest, info.failedAt);
      }
    },
    result(truncated: boolean): DlqSummary {
      return {
        ...s,
        ...(blocked.size > 0 ? { blockedKeys: [...blocked.values()] } : {}),
        truncated,
        oldest: Number.isFinite(oldest) ? new Date(oldest).toISOString() : undefined,
        newest: Number.isFinite(newest) ? new Date(newest).toISOString() : undefined,
      };
    },
  };
}

/** The view of one message for listings. */
export function messageView(index: number, msg: ConsumeMessage, info: DeadLetterInfo): DlqMessageView {
  return {
    index,
    messageId: info.messageId,
    jobId: info.jobId,
    kind: info.kind,
    reason: info.reason,
    errorClass: info.errorClass,
    errorMessage: info.errorMessage,
    route: info.route,
    origin: info.origin,
    originProblem: info.originProblem,
    failedAt: info.failedAt === undefined ? undefined : new Date(info.failedAt).toISOString(),
    attempts: info.attempts,
    requeued: info.requeued,
    redelivered: msg.fields.redelivered,
    bodyBytes: msg.content.length,
    bodyPreview: msg.content.subarray(0, 800).toString('utf8').slice(0, 200),
    ...(info.orderKey === undefined ? {} : { orderKey: info.orderKey }),
    ...(info.blockedBy === undefined ? {} : { blockedBy: info.blockedBy }),
  };
}
