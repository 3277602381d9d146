import { html } from 'hono/html';
import { ago, bar, type Html } from './console-html.ts';
import type { DriftSummary, QueueStat } from './console-broker.ts';

/** What the overview shows; each part may be missing with the reason why. */
export interface OverviewData {
  queues: QueueStat[] | { error: string };
  drift: DriftSummary | { error: string };
  /** Jobs this key may read, updated in the last hour, by current status (this replica's cache of recent jobs). */
  lastHour: Record<string, number>;
  /** Dead letters by reason, per DLQ; undefined when the key may not read them. */
  deadLetters: { queue: string; byReason: Record<string, number>; total: number; scannedAt?: string }[] | { error: string } | undefined;
  routes: { name: string; exchange: string; routingKey: string }[];
}

function rate(n: number): string {
  return n === 0 ? '0' : n < 10 ? n.toFixed(1) : n.toFixed(0);
}

/** The overview: queues, routes, jobs of the last hour, dead letters by reason, drift. */
export function overviewPage(d: OverviewData): Html {
  const maxStatus = Math.max(0, ...Object.values(d.lastHour));
  const queues = 'error' in d.queues
    ? html`<div class="banner" role="alert">Queue figures unavailable: ${d.queues.error}</div>`
    : html`<table class="stack" id="queues-table"><thead><tr><th>Queue</th><th>Type</th><th class="num">Ready</th><th class="num">Unacked</th><th class="num">Consumers</th><th class="num">Publish/s</th><th class="num">Deliver/s</th><th class="num">Ack/s</th><th>Depth</th></tr></thead><tbody>
${d.queues.map((q) => html`<tr><td data-label="Queue">${q.name}</td><td data-label="Type">${q.type}</td><td data-label="Ready" class="num">${q.ready}</td><td data-label="Unacked" class="num">${q.unacked}</td><td data-label="Consumers" class="num">${q.consumers}</td><td data-label="Publish/s" class="num">${rate(q.publishRate)}</td><td data-label="Deliver/s" class="num">${rate(q.deliverRate)}</td><td data-label="Ack/s" class="num">${rate(q.ackRate)}</td><td data-label="Depth">${bar(q.messages, Math.max(1, ...(d.queues as QueueStat[]).map((x) => x.messages)))}</td></tr>`)}
</tbody></table>`;
  const drift = 'error' in d.drift
    ? html`<p class="banner" role="alert">Drift unknown: ${d.drift.error}</p>`
    : d.drift.create + d.drift.update + d.drift.cannotChange === 0
      ? html`<p id="drift" class="result ok">In sync with topology.yaml${d.drift.extra > 0 ? html` (${d.drift.extra} extra object${d.drift.extra === 1 ? '' : 's'} warren created that the file no longer lists)` : ''}.</p>`
      : html`<p id="drift" class="result err">Differs from topology.yaml: ${d.drift.create} to create, ${d.drift.update} to update, ${d.drift.cannotChange} that cannot change in place, ${d.drift.extra} extra. Run <code>warren topology plan</code>.</p><pre>${d.drift.lines.join('\n')}</pre>`;
  const dead = d.deadLetters === undefined
    ? html`<p class="muted">Dead letters hold every tenant's payloads: they need a key with the <code>admin</code> scope.</p>`
    : 'error' in d.deadLetters
      ? html`<p class="banner" role="alert">Dead letters unavailable: ${d.deadLetters.error}</p>`
      : d.deadLetters.map((q) => {
          const max = Math.max(0, ...Object.values(q.byReason));
          return html`<h3><a href="/console/dlq/${encodeURIComponent(q.queue)}">${q.queue}</a> <span class="muted">${q.total} message${q.total === 1 ? '' : 's'}${q.scannedAt === undefined ? '' : `, counted ${ago(q.scannedAt, Date.now())} ago`}</span></h3>
<table>${Object.entries(q.byReason).sort((a, b) => b[1] - a[1]).map(([reason, n]) => html`<tr><td>${reason}</td><td class="num">${n}</td><td>${bar(n, max)}</td></tr>`)}</table>`;
        });
  return html`<h1>Overview</h1>
<div class="grid">
<div class="card"><h2>Jobs updated in the last hour</h2><table id="last-hour">${Object.keys(d.lastHour).length === 0 ? html`<tr><td class="muted">none</td></tr>` : ''}${Object.entries(d.lastHour).sort((a, b) => b[1] - a[1]).map(([s, n]) => html`<tr><td>${s}</td><td class="num">${n}</td><td>${bar(n, maxStatus)}</td></tr>`)}</table>
<p class="muted">From this replica's cache of recent jobs, as far as this key may read them.</p></div>
<div class="card"><h2>Dead letters by reason</h2>${dead}</div>
<div class="card"><h2>Topology drift</h2>${drift}</div>
</div>
<div class="card"><h2>Queues</h2>${queues}</div>
<div class="card"><h2>Routes</h2><table class="stack"><thead><tr><th>Route</th><th>Exchange</th><th>Routing key</th></tr></thead><tbody>${d.routes.map((r) => html`<tr><td data-label="Route"><a href="/console/jobs?route=${encodeURIComponent(r.name)}">${r.name}</a></td><td data-label="Exchange">${r.exchange}</td><td data-label="Routing key"><code>${r.routingKey}</code></td></tr>`)}</tbody></table></div>`;
}
