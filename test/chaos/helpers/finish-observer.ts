import amqplib from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobLedger } from './job-ledger.ts';
import { SCENARIO } from './scenario-topology.ts';
import { tailStream, type StreamTail } from './stream-tail.ts';

/** Stream the observer declares to keep a copy of every dead letter (the DLQ itself stays untouched). */
export const OBSERVED_DEAD_STREAM = 'chaos.observed.dead';

/** What a dead letter says about why it died. */
export interface DeadLetterInfo {
  /** `x-warren-reason` (warren dead-lettered it), or the broker's `x-first-death-reason`. */
  reason: string | undefined;
  errorClass: string | undefined;
  attempts: number | undefined;
}

/** Watches a scenario's vhost for finished jobs and records them in the ledger. */
export interface FinishObserver {
  /** Resolves when no accepted job is pending and nothing new was seen for `quietMs`; rejects on timeout with the counts. */
  settle(timeoutMs: number, quietMs?: number): Promise<void>;
  results(): number;
  deadLetters(): number;
  /** When the observer first saw the job finished (epoch ms), for end-to-end latency. */
  firstFinishAt(jobId: string): number | undefined;
  /** Why a job was dead-lettered (its `x-warren-*` / `x-death` headers), last copy seen. */
  deadLetterInfo(jobId: string): DeadLetterInfo | undefined;
  close(): Promise<void>;
}

/**
 * Declares a stream bound to the dead-letter exchange (so every dead letter,
 * whether warren or the broker dead-lettered it, is copied there) before any
 * traffic. Call once the topology exists.
 */
export async function declareObserverStreams(amqpUrl: string): Promise<void> {
  const conn = await amqplib.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.assertQueue(OBSERVED_DEAD_STREAM, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h' } });
    await ch.bindQueue(OBSERVED_DEAD_STREAM, SCENARIO.deadExchange, SCENARIO.deadRoutingKey);
  } finally {
    await conn.close();
  }
}

/**
 * Counts outcomes from what warren commits before it acks a job: the result
 * message on the results stream (succeeded) and the dead letter (dead-lettered).
 * Job events are observability and may be skipped on failure; these are not.
 */
export function observeFinishes(urls: readonly string[], ledger: JobLedger): FinishObserver {
  let lastChange = Date.now();
  const deadInfo = new Map<string, DeadLetterInfo>();
  const finishedAt = new Map<string, number>();
  const firstSeen = (id: string) => {
    if (!finishedAt.has(id)) finishedAt.set(id, Date.now());
  };
  const results: StreamTail = tailStream({
    urls,
    stream: SCENARIO.resultsStream,
    onMessage(msg) {
      lastChange = Date.now();
      const body = JSON.parse(msg.content.toString('utf8')) as { jobId?: string };
      const id = body.jobId ?? (msg.properties.correlationId as string | undefined);
      if (!id) return;
      firstSeen(id);
      ledger.finished(id, 'succeeded');
    },
  });
  const dead: StreamTail = tailStream({
    urls,
    stream: OBSERVED_DEAD_STREAM,
    onMessage(msg) {
      lastChange = Date.now();
      const id = msg.properties.messageId as string | undefined;
      if (!id) return;
      const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
      const text = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
      deadInfo.set(id, {
        reason: text(h['x-warren-reason']) ?? text(h['x-first-death-reason']),
        errorClass: text(h['x-warren-error-class']),
        attempts: typeof h['x-warren-attempts'] === 'number' ? h['x-warren-attempts'] : undefined,
      });
      firstSeen(id);
      ledger.finished(id, 'dead-lettered');
    },
  });

  return {
    results: () => results.count(),
    deadLetters: () => dead.count(),
    deadLetterInfo: (jobId) => deadInfo.get(jobId),
    firstFinishAt: (jobId) => finishedAt.get(jobId),
    async settle(timeoutMs, quietMs = 1500) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (ledger.pending() === 0 && Date.now() - lastChange >= quietMs) return;
        await sleep(200);
      }
      const r = ledger.report();
      throw new Error(
        `jobs did not settle within ${timeoutMs}ms: accepted ${r.accepted}, finished ${r.finished}, pending ${ledger.pending()} (e.g. ${r.lostIds.slice(0, 3).join(', ')})`,
      );
    },
    async close() {
      await Promise.all([results.close(), dead.close()]);
    },
  };
}
