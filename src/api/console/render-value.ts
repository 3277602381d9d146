import { html } from 'hono/html';
import type { Html } from './console-html.ts';

/** Characters of a payload, result or header the console shows before cutting (the rest is a download away). */
export const SHOWN_CHARS = 16 * 1024;

/** JSON pretty-printed when it parses, else the text as it is; cut at `limit` characters. */
export function prettyText(text: string, limit = SHOWN_CHARS): { text: string; cut: boolean; length: number } {
  let shown = text;
  if (text.length <= 4 * 1024 * 1024) {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shown = text;
    }
  }
  return shown.length > limit ? { text: shown.slice(0, limit), cut: true, length: shown.length } : { text: shown, cut: false, length: shown.length };
}

/**
 * A value in a <pre>, escaped (hono/html escapes every interpolation), cut at
 * {@link SHOWN_CHARS} with a note and, when given, a link to the whole of it.
 */
export function preValue(value: unknown, download?: string): Html {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? String(value);
  const p = typeof value === 'string' ? prettyText(text) : text.length > SHOWN_CHARS ? { text: text.slice(0, SHOWN_CHARS), cut: true, length: text.length } : { text, cut: false, length: text.length };
  return html`<pre>${p.text}</pre>${p.cut
    ? html`<p class="note">Showing the first ${SHOWN_CHARS.toLocaleString('en')} of ${p.length.toLocaleString('en')} characters.${download === undefined ? '' : html` <a href="${download}">Download the whole of it</a>.`}</p>`
    : ''}`;
}
