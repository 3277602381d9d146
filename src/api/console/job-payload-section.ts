import { html } from 'hono/html';
import type { Html } from './console-html.ts';
import { prettyText, SHOWN_CHARS } from './render-value.ts';

/** What the job page knows of the job's payload: GET /v1/jobs/{id}/payload's answer. */
export type PayloadView =
  | {
      stored: true;
      /** The stored text (the whole payload, or its first part when `truncated`). */
      text: string;
      /** Bytes of the stored text, and of the payload the job was published with. */
      storedBytes: number;
      totalBytes: number;
      /** The history kept only the first `storedBytes` (jobEvents.payloadBytes). */
      truncated: boolean;
    }
  /** Why there is none to show (the API's error code and message). */
  | { stored: false; code: string; message: string };

const bytes = (n: number) => `${n.toLocaleString('en')} bytes`;

/**
 * The job page's payload card: the stored payload pretty-printed when it is
 * whole JSON, as text otherwise, escaped (hono/html escapes every value), cut
 * for display at {@link SHOWN_CHARS} characters, with a download of what the
 * history stored and a note when that itself is only the payload's first part.
 */
export function payloadSection(jobId: string, jobStatus: string, p: PayloadView): Html {
  if (!p.stored) {
    return html`<div class="card" id="job-payload"><h2>Payload</h2><p class="muted">${p.message} <span class="muted">(${p.code})</span></p></div>`;
  }
  // A payload cut at the cap is not JSON any more: it is shown as the text it is.
  const shown = prettyText(p.text);
  const download = `/console/jobs/${encodeURIComponent(jobId)}/payload`;
  return html`<div class="card" id="job-payload"><h2>Payload</h2>
<pre>${shown.text}</pre>
${shown.cut ? html`<p class="note" id="payload-shown">Showing the first ${SHOWN_CHARS.toLocaleString('en')} of ${shown.length.toLocaleString('en')} characters.</p>` : ''}
${p.truncated
  ? html`<p class="note" id="payload-truncated">The job was submitted with a payload of ${bytes(p.totalBytes)}; the job history keeps its first ${bytes(p.storedBytes)} (<code>jobEvents.payloadBytes</code>).${jobStatus === 'dead-lettered' ? html` Its whole message is in its dead-letter queue (Dead letters).` : ''}</p>`
  : ''}
<p><a id="payload-download" href="${download}" download>${p.truncated ? `Download the stored part (${bytes(p.storedBytes)})` : `Download the payload (${bytes(p.totalBytes)})`}</a></p>
</div>`;
}
