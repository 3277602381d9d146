import { formatDuration } from '../config/duration.ts';
import type { RequeueReport } from './dlq-requeue.ts';
import type { DlqGroups } from './dlq-groups.ts';
import type { DlqListing, PurgeReport } from './dlq-service.ts';

/** Text rendering of DLQ results for the terminal (the API returns the same objects as JSON). */

function counts(map: Record<string, number>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

function age(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  const ms = Math.max(0, now - Date.parse(iso));
  if (ms < 1000) return 'now';
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [u, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${u}`;
  return formatDuration(ms);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

/** `warren dlq list` output: summary, then one row per listed message. */
export function formatListing(l: DlqListing, now: number): string {
  const s = l.summary;
  const lines = [
    `${s.queue}: ${s.total} message${s.total === 1 ? '' : 's'}, scanned ${s.scanned}, ${s.matched} match${s.truncated ? ' (scan stopped early: --limit or more than 65,535 messages)' : ''}`,
    `  by route        ${counts(s.byRoute)}`,
    `  by reason       ${counts(s.byReason)}`,
    `  by error class  ${counts(s.byErrorClass)}`,
    `  by origin       ${counts(s.byOrigin)}`,
    `  by kind         ${counts(s.byKind)}`,
    `  age             newest ${age(s.newest, now)}, oldest ${age(s.oldest, now)}`,
    `  unknown origin  ${s.unknownOrigin} (left in place by requeue)`,
    `  over the cap    ${s.overCap} (x-warren-requeued >= ${s.maxRequeues}; skipped by requeue)`,
  ];
  if (s.blockedKeys !== undefined) {
    lines.push(`  blocked keys    ${s.blockedKeys.length} (ordered routes: requeue the blocking job to release its key; its blocked jobs follow it)`);
    for (const b of s.blockedKeys.slice(0, 50)) lines.push(`    ${pad(b.key, 40)} blocked by ${b.blockedBy}, ${b.waiting} waiting behind it`);
    if (s.blockedKeys.length > 50) lines.push(`    ... and ${s.blockedKeys.length - 50} more (narrow with --key)`);
  }
  if (s.alreadyRequeued > 0) lines.push(`  already in origin ${s.alreadyRequeued} (an interrupted requeue delivered them; the next requeue removes these copies)`);
  if (l.messages.length > 0) {
    lines.push('', `  ${pad('#', 6)}${pad('message id', 38)}${pad('reason', 20)}${pad('error class', 16)}${pad('age', 6)}${pad('req', 4)}origin`);
    for (const m of l.messages) {
      const origin = m.origin ? `${m.origin.queue ?? '?'} (${m.origin.exchange || '(default)'}/${m.origin.routingKey})` : `unknown: ${m.originProblem ?? ''}`;
      lines.push(`  ${pad(String(m.index), 6)}${pad(m.messageId ?? '-', 38)}${pad(m.reason, 20)}${pad(m.errorClass ?? '-', 16)}${pad(age(m.failedAt, now), 6)}${pad(String(m.requeued), 4)}${origin}`);
    }
  }
  for (const w of l.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/** Final tally of a requeue (or selective purge). */
export function formatRequeueReport(r: RequeueReport): string {
  const verb = r.action === 'drop' ? 'purged' : 'moved';
  const lines: string[] = [];
  if (r.dryRun) {
    lines.push(`dry run: nothing was changed in '${r.queue}'`);
    for (const p of r.plan.slice(0, 20)) lines.push(`  would ${r.action === 'drop' ? 'purge' : 'move'} ${p.messageId ?? '(no id)'} [${p.reason}] -> ${p.to}`);
    if (r.plan.length > 20) lines.push(`  ... and ${r.moved - 20} more`);
  }
  const skipped = r.skipped.filtered + r.skipped.capped + r.skipped.unknownOrigin;
  lines.push(
    `${r.queue}: ${r.dryRun ? `would be ${verb}` : verb} ${r.moved} / skipped ${skipped} / failed ${r.failed}` +
      ` (scanned ${r.scanned} of ${r.total}${r.skipped.notScanned > 0 ? `, ${r.skipped.notScanned} not read` : ''}; ${(r.durationMs / 1000).toFixed(1)}s${r.dryRun ? '' : `, ${r.rate}/s`})`,
  );
  if (skipped > 0) lines.push(`  skipped: ${r.skipped.filtered} not matching, ${r.skipped.capped} over the requeue cap, ${r.skipped.unknownOrigin} unknown origin (all left in the DLQ, in order)`);
  for (const [dest, n] of Object.entries(r.destinations).sort((a, b) => b[1] - a[1])) lines.push(`  -> ${dest}: ${n}`);
  if (r.deduplicated > 0) lines.push(`  ${r.deduplicated} DLQ copies of messages an interrupted run had already delivered were removed (not sent twice)`);
  if (r.possibleDuplicates > 0) lines.push(`  ${r.possibleDuplicates} messages were in flight when an earlier run died (outcome unknown): sent again, they may be in their origin twice`);
  if (r.unacked > 0) lines.push(`  ${r.unacked} messages reached their origin but the DLQ ack was lost with the connection: the journal removes their DLQ copy on the next run`);
  for (const u of r.unknownOrigins) lines.push(`  unknown origin: ${u.messageId ?? '(no id)'} [${u.reason}]: ${u.detail}`);
  for (const f of r.failures) lines.push(`  failed: ${f.messageId ?? '(no id)'} [${f.reason}]: ${f.detail}`);
  if (r.eventErrors > 0) lines.push(`  ${r.eventErrors} 'requeued' job events could not be published`);
  if (r.interrupted) lines.push('interrupted: the messages not yet moved are still in the DLQ, in order');
  if (r.error) lines.push(`error: ${r.error.message}. Every message is in the DLQ or in its origin; run the same command again to finish.`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/** Result of `warren dlq purge`. */
export function formatPurge(p: PurgeReport): string {
  if (p.selective) return formatRequeueReport(p.selective);
  return [`${p.queue}: ${p.dryRun ? 'would purge' : 'purged'} ${p.purged} message${p.purged === 1 ? '' : 's'}`, ...p.warnings.map((w) => `warning: ${w}`)].join('\n');
}

/** `warren dlq list --groups` output: one line per failure group, largest first, with the id `--group` takes. */
export function formatGroups(g: DlqGroups, now: number): string {
  const lines = [`${g.queue}: ${g.matched} match${g.matched === 1 ? '' : 'es'} in ${g.groups.length} group${g.groups.length === 1 ? '' : 's'} (scanned ${g.scanned} of ${g.total}${g.truncated ? ', stopped early' : ''})`, ''];
  lines.push(`  ${pad('count', 7)}${pad('origin', 22)}${pad('reason', 22)}${pad('error class', 18)}${pad('oldest', 8)}${pad('newest', 8)}group id`);
  for (const x of g.groups) {
    lines.push(`  ${pad(String(x.count), 7)}${pad(x.origin, 22)}${pad(x.reason, 22)}${pad(x.errorClass, 18)}${pad(age(x.oldest, now), 8)}${pad(age(x.newest, now), 8)}${x.id}`);
  }
  return lines.join('\n');
}
