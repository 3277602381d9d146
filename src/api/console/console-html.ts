import { html } from 'hono/html';

/** What a page renders into: hono/html's escaped string (every interpolated value is escaped unless wrapped in raw()). */
export type Html = ReturnType<typeof html>;

/** Pages of the console's navigation. */
export type ConsoleSection = 'overview' | 'jobs' | 'dlq' | 'topology';

/** What every page shows around its content. */
export interface LayoutOptions {
  title: string;
  section?: ConsoleSection;
  /** The signed-in key's name, for the header (undefined on the login page). */
  who?: string;
  csrf?: string;
  /** Shown as a red banner on top (broker down, management API unreachable ...). */
  banners?: string[];
}

const NAV: { section: ConsoleSection; href: string; label: string }[] = [
  { section: 'overview', href: '/console', label: 'Overview' },
  { section: 'jobs', href: '/console/jobs', label: 'Jobs' },
  { section: 'dlq', href: '/console/dlq', label: 'Dead letters' },
  { section: 'topology', href: '/console/topology', label: 'Topology' },
];

/** The page shell: header with navigation, banners, content. Scripts and styles come from /console/assets only. */
export function layout(options: LayoutOptions, content: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.csrf === undefined ? '' : html`<meta name="warren-csrf" content="${options.csrf}">`}
<title>${options.title} · warren console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<header>
  <strong>warren</strong>
  ${options.who === undefined ? '' : NAV.map((n) => html`<a href="${n.href}" class="${n.section === options.section ? 'on' : ''}">${n.label}</a>`)}
  ${options.who === undefined
    ? ''
    : html`<span class="who">key: ${options.who}</span><form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${options.csrf ?? ''}"><button type="submit">Log out</button></form>`}
</header>
<main>
${(options.banners ?? []).map((b) => html`<div class="banner" role="alert">${b}</div>`)}
${content}
</main>
</body>
</html>`;
}

/** A job status as a coloured label. */
export function statusLabel(status: string): Html {
  return html`<span class="status ${status}">${status}</span>`;
}

/** "3m", "2h", "4d" ago (or in the future, for clock skew). */
export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A query string from defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s === '' ? '' : `?${s}`;
}

/** A horizontal bar for counts (a <meter>, no inline style): a person compares lengths faster than numbers. */
export function bar(value: number, max: number): Html {
  return html`<meter class="bar" min="0" max="${Math.max(1, max)}" value="${value}" title="${value}"></meter>`;
}
