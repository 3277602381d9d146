import { html } from 'hono/html';
import type { JobStatusView } from '../status/job-status.ts';
import { ago, qs, statusLabel, type Html } from './console-html.ts';
import { payloadSection, type PayloadView } from './job-payload-section.ts';
import { preValue } from './render-value.ts';

/** One row of GET /v1/jobs. */
export interface JobRow {
  id: string;
  route?: string;
  queue?: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  attempts: number;
}

/** The jobs list's filters, as the query string carries them. */
export interface JobFilters {
  route?: string;
  status?: string;
  queue?: string;
  idPrefix?: string;
  after?: string;
  before?: string;
  limit?: string;
}

const STATUSES = ['queued', 'running', 'retrying', 'succeeded', 'failed', 'dead-lettered', 'requeued'];

/** The jobs list: filters, a table newest first, and the link to the next page. */
export function jobsPage(f: JobFilters, page: { jobs: JobRow[]; next?: string } | { error: string }, routes: string[], now: number): Html {
  const filterForm = html`<form class="filters card" method="get" action="/console/jobs">
  <label>Route<select name="route"><option value="">any</option>${routes.map((r) => html`<option ${r === f.route ? 'selected' : ''}>${r}</option>`)}</select></label>
  <label>Status<select name="status"><option value="">any</option>${STATUSES.map((s) => html`<option ${s === f.status ? 'selected' : ''}>${s}</option>`)}</select></label>
  <label>Queue<input name="queue" value="${f.queue ?? ''}" size="14"></label>
  <label>Id starts with<input name="idPrefix" value="${f.idPrefix ?? ''}" size="12"></label>
  <label>Created after (ISO)<input name="after" value="${f.after ?? ''}" size="20" placeholder="2026-01-31T12:00:00Z"></label>
  <label>Created before (ISO)<input name="before" value="${f.before ?? ''}" size="20"></label>
  <button type="submit" class="primary">Filter</button> <a href="/console/jobs">clear</a>
</form>`;
  if ('error' in page) return html`<h1>Jobs</h1>${filterForm}<div class="banner" role="alert">${page.error}</div>`;
  const { before: _before, ...keep } = f;
  return html`<h1>Jobs</h1>${filterForm}
<div class="card"><table class="stack" id="jobs-table">
<thead><tr><th>Job</th><th>Status</th><th>Route</th><th>Queue</th><th class="num">Attempts</th><th>Created</th><th>Updated</th></tr></thead>
<tbody>${page.jobs.length === 0 ? html`<tr><td colspan="7" class="muted">No jobs on this page.</td></tr>` : ''}
${page.jobs.map(
  (j) => html`<tr data-job="${j.id}"><td data-label="Job"><a href="/console/jobs/${encodeURIComponent(j.id)}"><code>${j.id}</code></a></td><td data-label="Status">${statusLabel(j.status)}</td><td data-label="Route">${j.route ?? ''}</td><td data-label="Queue">${j.queue ?? ''}</td><td data-label="Attempts" class="num">${j.attempts}</td><td data-label="Created" title="${j.createdAt}">${ago(j.createdAt, now)} ago</td><td data-label="Updated" title="${j.updatedAt}">${ago(j.updatedAt, now)} ago</td></tr>`,
)}</tbody></table>
${page.next === undefined ? html`<p class="muted">End of the listing.</p>` : html`<p><a id="next-page" href="/console/jobs${qs({ ...keep, before: page.next })}">Older jobs →</a> <span class="muted">(a page reads a bounded part of the history, so it may be short)</span></p>`}
</div>`;
}

function durationText(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The part of the job page that live updates replace: everything the status document says. */
export function jobPanel(job: JobStatusView, now: number): Html {
  const timeline: { at: string | undefined; what: string }[] = [{ at: job.createdAt, what: 'created (queued)' }];
  for (const a of job.attempts) {
    if (a.startedAt !== undefined) timeline.push({ at: a.startedAt, what: `attempt ${a.attempt} started` });
    if (a.endedAt !== undefined) timeline.push({ at: a.endedAt, what: `attempt ${a.attempt} ${a.status}${a.error ? ` (${a.error.class})` : ''}${a.retryInMs !== undefined ? `, retry in ${durationText(a.retryInMs)}` : ''}` });
  }
  timeline.push({ at: job.updatedAt, what: `now ${job.status}` });
  timeline.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  const last = job.attempts[job.attempts.length - 1];
  return html`<div class="grid">
<div class="card"><table>
<tr><th>Status</th><td id="job-status">${statusLabel(job.status)}</td></tr>
<tr><th>Route</th><td>${job.route ?? ''}</td></tr>
<tr><th>Queue</th><td>${job.queue ?? ''}</td></tr>
<tr><th>Created</th><td>${job.createdAt} <span class="muted">(${ago(job.createdAt, now)} ago)</span></td></tr>
<tr><th>Updated</th><td>${job.updatedAt}</td></tr>
${job.usage === undefined
  ? ''
  : html`<tr><th>Tokens</th><td id="job-usage">${job.usage.promptTokens} prompt + ${job.usage.completionTokens} completion = ${job.usage.totalTokens}</td></tr>`}
</table></div>
<div class="card"><h2>Timeline</h2><ol id="job-timeline">${timeline.map((t) => html`<li><code>${t.at ?? ''}</code> ${t.what}</li>`)}</ol></div>
</div>
<div class="card"><h2>Attempts</h2>
<table class="stack" id="job-attempts"><thead><tr><th class="num">#</th><th>Status</th><th>Started</th><th class="num">Duration</th><th>Error class</th><th>Error</th></tr></thead><tbody>
${job.attempts.length === 0 ? html`<tr><td colspan="6" class="muted">No attempt yet.</td></tr>` : ''}
${job.attempts.map(
  (a) => html`<tr><td data-label="#" class="num">${a.attempt}</td><td data-label="Status">${statusLabel(a.status)}</td><td data-label="Started">${a.startedAt ?? ''}</td><td data-label="Duration" class="num">${durationText(a.durationMs)}</td><td data-label="Error class">${a.error?.class ?? ''}</td><td data-label="Error">${a.error === undefined ? '' : preValue(a.error.message)}</td></tr>`,
)}</tbody></table></div>
${job.result === undefined
  ? last?.error === undefined || (job.status !== 'failed' && job.status !== 'dead-lettered')
    ? ''
    : html`<div class="card"><h2>Final error</h2><p><strong>${last.error.class}</strong></p>${preValue(last.error.message)}</div>`
  : html`<div class="card"><h2>Result</h2>${preValue(job.result, `/console/jobs/${encodeURIComponent(job.id)}/raw`)}</div>`}`;
}

/** The job page: the panel, followed live over the job's SSE stream until the job ends, and the job's payload (it does not change). */
export function jobPage(job: JobStatusView, payload: PayloadView, now: number): Html {
  return html`<h1>Job <code>${job.id}</code></h1>
<p class="muted"><span id="live-state">${['succeeded', 'failed', 'dead-lettered'].includes(job.status) ? 'ended' : 'live: connecting'}</span> · <a href="/console/jobs/${encodeURIComponent(job.id)}/raw">status JSON</a></p>
<div data-live-job="${job.id}">${jobPanel(job, now)}</div>
${payloadSection(job.id, job.status, payload)}
<div class="card"><h2>Live events</h2><ul id="live-log" class="muted"></ul></div>`;
}
