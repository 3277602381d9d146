import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { ENV_SETTINGS } from '../config/env-settings.ts';
import { resolveDeadLetter, type DeadLetterInfo } from './dead-letter-info.ts';
import { deliveryCountWarning, tallyDeliveryCount, type DeliveryCountTally } from './delivery-limit.ts';
import type { DlqDeps } from './dlq-deps.ts';
import { preflightQueue } from './dlq-preflight.ts';
import { runRequeue, type RequeueOptions, type RequeueReport } from './dlq-requeue.ts';
import { createSummaryBuilder, messageView, type DlqMessageView, type DlqSummary } from './dlq-summary.ts';
import { createDlqTopology } from './dlq-topology.ts';
import { createGroupBuilder, type DlqGroups } from './dlq-groups.ts';
import { isEmptyFilter, matchesFilter, type DlqFilter } from './message-filter.ts';
import { createOriginPolicy } from './origin-policy.ts';
import { dedupeKey } from './requeue-journal.ts';
import { openSnapshotReader } from './snapshot-reader.ts';

/** Options of list and export. */
export interface InspectOptions {
  filter: DlqFilter;
  /** Stop after this many matching messages. */
  limit?: number;
  /** Matching messages to skip before the returned page. @default 0 */
  offset?: number;
  /** Matching messages returned. @default 20 */
  pageSize?: number;
  /** Counted as over the cap in the summary. @default WARREN_DLQ_MAX_REQUEUES's declared default (callers pass the loaded value) */
  maxRequeues?: number;
}

/** Result of {@link DlqService.list}. */
export interface DlqListing {
  summary: DlqSummary;
  messages: DlqMessageView[];
  warnings: string[];
}

/** One exported dead letter (a line of the NDJSON file). */
export interface ExportedDeadLetter {
  queue: string;
  index: number;
  fields: { exchange: string; routingKey: string; redelivered: boolean };
  properties: Record<string, unknown>;
  /** utf8 text, or base64 when the body isn't valid UTF-8. */
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  deadLetter: Omit<DeadLetterInfo, 'deaths'>;
}

/** Result of {@link DlqService.purge}. */
export interface PurgeReport {
  queue: string;
  dryRun: boolean;
  /** Messages removed (dry-run: that would be). */
  purged: number;
  /** Selective purge (filters given): the requeue engine's tally with action `drop`. */
  selective: RequeueReport | undefined;
  warnings: string[];
}

/** Dead-letter operations shared by the CLI and the HTTP API. */
export interface DlqService {
  /** Summary and a page of matching messages; the queue is left exactly as it was (order included). */
  list(queue: string, options: InspectOptions): Promise<DlqListing>;
  /** The matching messages in failure groups (origin, reason, error class) with counts and ages; the queue is left exactly as it was. */
  groups(queue: string, options: InspectOptions): Promise<DlqGroups & { warnings: string[] }>;
  /** Messages the queue holds now (ready + unacked), from a passive declare: cheap, changes nothing. */
  depth(queue: string): Promise<number>;
  /** Calls `write` for each matching message, in queue order, without removing anything. */
  export(queue: string, options: InspectOptions, write: (line: ExportedDeadLetter) => void | Promise<void>): Promise<{ exported: number; summary: DlqSummary; warnings: string[] }>;
  /** Sends matching messages back to their origin (see {@link runRequeue}). */
  requeue(queue: string, options: RequeueOptions): Promise<RequeueReport>;
  /** Removes every message (no filter: queue.purge) or only the matching ones. */
  purge(queue: string, options: { filter: DlqFilter; dryRun?: boolean; force?: boolean; limit?: number; signal?: AbortSignal }): Promise<PurgeReport>;
}

function utf8OrBase64(content: Buffer): { body: string; bodyEncoding: 'utf8' | 'base64' } {
  const text = content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(content) ? { body: text, bodyEncoding: 'utf8' } : { body: content.toString('base64'), bodyEncoding: 'base64' };
}

/** Creates the DLQ service. */
export function createDlqService(deps: DlqDeps): DlqService {
  const vhost = deps.topology.connection.vhost;
  const dt = createDlqTopology(deps.topology);
  const origins = createOriginPolicy(dt);
  let depthProbe: { connection: ChannelModel; channel: Promise<Channel> } | undefined;

  /** Reads the snapshot, calls `visit` for matching messages, then returns everything in place. */
  async function scan(queue: string, options: InspectOptions, visit: (index: number, msg: ConsumeMessage, info: DeadLetterInfo) => void | Promise<void>) {
    const facts = await preflightQueue({ management: deps.management, vhost, queue, dlqTopology: dt, requireDeadLetterQueue: false, force: true });
    const connection = await deps.connection.waitForConnection(deps.connectTimeoutMs ?? 10_000);
    const reader = await openSnapshotReader({ connection, queue });
    const journal = deps.journal?.(vhost, queue);
    const summary = createSummaryBuilder(queue, reader.total, options.maxRequeues ?? ENV_SETTINGS.dlqMaxRequeues.default);
    let index = 0;
    let matched = 0;
    let limited = false;
    const counts: DeliveryCountTally = { max: 0, near: 0 };
    try {
      for (;;) {
        if (options.limit !== undefined && matched >= options.limit) {
          limited = true;
          break;
        }
        const msg = await reader.next();
        if (!msg) break;
        summary.scanned();
        tallyDeliveryCount(counts, msg.properties.headers, facts.deliveryLimit);
        const info = resolveDeadLetter(msg, { queue, origins });
        if (matchesFilter(info, options.filter)) {
          const already = journal !== undefined && msg.fields.redelivered && journal.leftover(dedupeKey(msg)) === 'confirmed';
          summary.add(info, already);
          await visit(index, msg, info);
          matched++;
        }
        index++;
      }
    } finally {
      await reader.close();
    }
    const countWarning = deliveryCountWarning(queue, facts.deliveryLimit, counts);
    return { summary: summary.result(limited || reader.total > reader.snapshot), warnings: countWarning === undefined ? facts.warnings : [...facts.warnings, countWarning] };
  }

  return {
    async list(queue, options) {
      const offset = options.offset ?? 0;
      const pageSize = options.pageSize ?? 20;
      const messages: DlqMessageView[] = [];
      let seen = 0;
      const { summary, warnings } = await scan(queue, options, (index, msg, info) => {
        if (seen >= offset && messages.length < pageSize) messages.push(messageView(index, msg, info));
        seen++;
      });
      return { summary, messages, warnings };
    },

    async groups(queue, options) {
      const builder = createGroupBuilder(options.maxRequeues ?? ENV_SETTINGS.dlqMaxRequeues.default);
      const { summary, warnings } = await scan(queue, options, (_index, _msg, info) => builder.add(info));
      return { queue, total: summary.total, scanned: summary.scanned, matched: summary.matched, truncated: summary.truncated, groups: builder.result(), warnings };
    },

    async depth(queue) {
      const connection = await deps.connection.waitForConnection(deps.connectTimeoutMs ?? 10_000);
      // One channel kept for the probes (one round trip each, where a channel per probe costs three); a probe of a
      // queue that doesn't exist closes it, and the next probe opens another.
      let probe = depthProbe;
      if (probe === undefined || probe.connection !== connection) {
        const channel = connection.createChannel().then((ch) => {
          ch.on('error', () => undefined);
          ch.on('close', () => {
            if (depthProbe?.channel === channel) depthProbe = undefined;
          });
          return ch;
        });
        probe = depthProbe = { connection, channel };
      }
      try {
        return (await (await probe.channel).checkQueue(queue)).messageCount;
      } catch (err) {
        if (depthProbe === probe) depthProbe = undefined;
        throw err;
      }
    },

    async export(queue, options, write) {
      let exported = 0;
      const { summary, warnings } = await scan(queue, options, async (index, msg, info) => {
        const { deaths: _deaths, ...deadLetter } = info;
        const properties: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(msg.properties)) if (v !== undefined) properties[k] = v;
        await write({
          queue,
          index,
          fields: { exchange: msg.fields.exchange, routingKey: msg.fields.routingKey, redelivered: msg.fields.redelivered },
          properties,
          ...utf8OrBase64(msg.content),
          deadLetter,
        });
        exported++;
      });
      return { exported, summary, warnings };
    },

    requeue: (queue, options) => runRequeue(deps, queue, options),

    async purge(queue, options) {
      if (!isEmptyFilter(options.filter) || options.limit !== undefined) {
        const selective = await runRequeue(deps, queue, {
          filter: options.filter,
          action: 'drop',
          ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
          ...(options.force === undefined ? {} : { force: options.force }),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        return { queue, dryRun: options.dryRun ?? false, purged: selective.moved, selective, warnings: selective.warnings };
      }
      const facts = await preflightQueue({ management: deps.management, vhost, queue, dlqTopology: dt, requireDeadLetterQueue: true, force: options.force ?? false });
      const connection = await deps.connection.waitForConnection(deps.connectTimeoutMs ?? 10_000);
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      try {
        if (options.dryRun) {
          const ok = await channel.checkQueue(queue);
          return { queue, dryRun: true, purged: ok.messageCount, selective: undefined, warnings: facts.warnings };
        }
        const ok = await channel.purgeQueue(queue);
        return { queue, dryRun: false, purged: ok.messageCount, selective: undefined, warnings: facts.warnings };
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
  };
}
