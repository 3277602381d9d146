import { html } from 'hono/html';
import type { z } from 'zod';
import type { dlqGroupsSchema, dlqListingSchema } from '../openapi/api-schemas.ts';
import { ago, qs, type Html } from './console-html.ts';
import { preValue } from './render-value.ts';

type Groups = z.input<typeof dlqGroupsSchema>;
type Listing = z.input<typeof dlqListingSchema>;

/** The DLQ queues with their depth. */
export function dlqIndexPage(queues: { name: string; messages: number | undefined }[]): Html {
  return html`<h1>Dead letters</h1><div class="card"><table class="stack" id="dlq-queues"><thead><tr><th>Dead-letter queue</th><th class="num">Messages</th></tr></thead><tbody>
${queues.length === 0 ? html`<tr><td colspan="2" class="muted">The topology has no dead-letter queue.</td></tr>` : ''}
${queues.map((q) => html`<tr><td data-label="Queue"><a href="/console/dlq/${encodeURIComponent(q.name)}">${q.name}</a></td><td data-label="Messages" class="num">${q.messages ?? '?'}</td></tr>`)}
</tbody></table></div>`;
}

/** The forms of the actions on a selection (a group, chosen messages): requeue to origin or to a route, purge; each dry-run first. */
export function actionForms(queue: string, selection: { group?: string; ids?: boolean }, routes: string[], canAct: boolean): Html {
  if (!canAct) return html`<p class="muted">Actions need a key with the <code>admin</code> scope.</p>`;
  const base = `/console/dlq/${encodeURIComponent(queue)}`;
  const hidden = selection.group === undefined ? '' : html`<input type="hidden" name="group" value="${selection.group}">`;
  const idsAttr = selection.ids === true ? 'messages' : '';
  return html`<div class="actions-block">
<form data-action="${base}/requeue" ${idsAttr === '' ? '' : html`data-needs-selection="1"`} class="action-requeue">${hidden}
  <div class="actions"><label>to <select name="toRoute"><option value="">its origin</option>${routes.map((r) => html`<option value="${r}">route ${r}</option>`)}</select></label>
  <button type="submit">Dry-run requeue</button><button type="submit" class="primary" data-confirm="Requeue {n}" hidden>Requeue</button></div>
  <div class="result" aria-live="polite"></div>
</form>
<form data-action="${base}/purge" ${idsAttr === '' ? '' : html`data-needs-selection="1"`} class="action-purge">${hidden}
  <div class="actions"><button type="submit">Dry-run purge</button><button type="submit" class="danger" data-confirm="Delete {n} for good" hidden>Purge</button></div>
  <div class="result" aria-live="polite"></div>
</form>
</div>`;
}

/** A DLQ's failure groups: origin, reason, error class, counts and ages, each with its actions. */
export function dlqGroupsPage(queue: string, g: Groups, routes: string[], canAct: boolean, now: number): Html {
  const base = `/console/dlq/${encodeURIComponent(queue)}`;
  return html`<h1>Dead letters in <code>${queue}</code></h1>
<p class="muted">${g.matched} message${g.matched === 1 ? '' : 's'} in ${g.groups.length} group${g.groups.length === 1 ? '' : 's'} (${
  g.source === 'events'
    ? html`counted from the job events, ${g.total} in the queue${(g.unaccounted ?? 0) > 0 ? html`, <strong>${g.unaccounted} not accounted for</strong>` : ''}`
    : html`scanned ${g.scanned} of ${g.total}${g.truncated ? ', truncated' : ''}${g.scannedAt === undefined ? '' : html`; counted ${ago(g.scannedAt, now)} ago${g.cached === true ? ' (the queue has not changed since)' : ''}`}`
}). <a id="recount" href="${base}?fresh=1">${g.source === 'events' ? 'Count by reading the queue' : 'Count again'}</a> · <a href="${base}/export">Export all as NDJSON</a> · <a href="${base}/messages">All messages</a></p>
${(g.warnings ?? []).map((w) => html`<p class="note">${w}</p>`)}
${g.groups.length === 0 ? html`<div class="card muted">No dead letters.</div>` : ''}
${g.groups.map(
  (grp) => html`<div class="card dlq-group" data-group="${grp.id}" data-reason="${grp.reason}" data-origin="${grp.origin}">
<h2>${grp.count} × <strong>${grp.reason}</strong>${grp.errorClass !== grp.reason ? html` / ${grp.errorClass}` : ''} <span class="muted">from ${grp.origin}</span></h2>
<p class="muted">oldest ${ago(grp.oldest, now)} ago · newest ${ago(grp.newest, now)} ago · routes ${Object.entries(grp.routes).map(([r, n]) => `${r} ${n}`).join(', ')}${grp.unknownOrigin > 0 ? ` · ${grp.unknownOrigin} without a known origin` : ''}${grp.overCap > 0 ? ` · ${grp.overCap} over the requeue cap` : ''}</p>
${grp.sampleError === undefined ? '' : html`<pre class="sample">${grp.sampleError}</pre>`}
<p><a href="${base}/messages${qs({ group: grp.id })}">Messages</a> · <a href="${base}/export${qs({ group: grp.id })}">Export NDJSON</a> · <span class="muted">CLI: <code>warren dlq requeue ${queue} --group ${grp.id}</code></span></p>
${actionForms(queue, { group: grp.id }, routes, canAct)}
</div>`,
)}`;
}

/** A page of dead letters, with checkboxes for actions on a selection. */
export function dlqMessagesPage(queue: string, l: Listing, group: string | undefined, routes: string[], canAct: boolean, now: number): Html {
  const base = `/console/dlq/${encodeURIComponent(queue)}`;
  const offset = l.offset;
  return html`<h1>Dead letters in <a href="${base}"><code>${queue}</code></a>${group === undefined ? '' : ' (one group)'}</h1>
<p class="muted">${l.summary.matched} matching; showing ${l.messages.length} from ${offset}.</p>
<form id="selection" class="card">
<table class="stack" id="dlq-messages"><thead><tr><th><input type="checkbox" data-select-all="id" aria-label="select all"></th><th>Message</th><th>Reason</th><th>Error</th><th>Route</th><th>Origin</th><th>Died</th><th class="num">Requeued</th><th>Body</th></tr></thead><tbody>
${l.messages.map(
  (m) => html`<tr><td><input type="checkbox" name="id" value="${m.messageId ?? ''}" ${m.messageId === undefined ? 'disabled' : ''} aria-label="select"></td>
<td data-label="Message">${m.messageId === undefined ? html`<span class="muted">(no id)</span>` : html`<a href="${base}/message${qs({ id: m.messageId })}"><code>${m.messageId}</code></a>`}</td>
<td data-label="Reason">${m.reason}</td><td data-label="Error">${m.errorClass ?? ''}${m.errorMessage === undefined ? '' : html`<div class="muted">${m.errorMessage.slice(0, 200)}</div>`}</td>
<td data-label="Route">${m.route ?? ''}</td><td data-label="Origin">${m.origin?.queue ?? m.originProblem ?? ''}</td><td data-label="Died">${ago(m.failedAt, now)} ago</td><td data-label="Requeued" class="num">${m.requeued}</td>
<td data-label="Body"><code class="preview">${m.bodyPreview}</code> <span class="muted">${m.bodyBytes} B</span></td></tr>`,
)}
</tbody></table>
${offset + l.messages.length < l.summary.matched ? html`<p><a href="${base}/messages${qs({ group, offset: offset + l.pageSize })}">Next page →</a></p>` : ''}
</form>
<div class="card"><h2>Selected messages</h2>${actionForms(queue, { ids: true }, routes, canAct)}</div>`;
}

/** One exported dead letter: headers, properties, the payload pretty-printed (escaped, cut, downloadable). */
export function dlqMessagePage(queue: string, line: Record<string, unknown> | undefined, id: string): Html {
  const base = `/console/dlq/${encodeURIComponent(queue)}`;
  if (line === undefined) return html`<h1>Dead letter <code>${id}</code></h1><div class="banner" role="alert">This message is no longer in ${queue} (requeued, purged or expired since the list was read).</div><p><a href="${base}">Back to the groups</a></p>`;
  const properties = (line['properties'] ?? {}) as Record<string, unknown>;
  const { headers, ...rest } = properties;
  const body = String(line['body'] ?? '');
  const download = `${base}/export${qs({ id })}`;
  return html`<h1>Dead letter <code>${id}</code> <span class="muted">in <a href="${base}">${queue}</a></span></h1>
<div class="card"><h2>Why it died</h2>${preValue(line['deadLetter'])}</div>
<div class="card"><h2>Headers</h2><table id="message-headers">${Object.entries((headers ?? {}) as Record<string, unknown>).map(([k, v]) => html`<tr><th>${k}</th><td>${preValue(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`)}</table></div>
<div class="card"><h2>Properties</h2>${preValue(rest)}</div>
<div class="card" id="message-body"><h2>Payload <span class="muted">(${line['bodyEncoding'] === 'base64' ? 'base64: not valid UTF-8' : 'UTF-8'}, ${body.length.toLocaleString('en')} characters)</span></h2>${preValue(body, download)}<p><a href="${download}">Download as NDJSON</a></p></div>`;
}
