import { html } from 'hono/html';
import type { Topology } from '../../config/topology-schema.ts';
import type { Html } from './console-html.ts';

/** `*` one word, `#` zero or more: whether a topic binding key can match a route's key template (placeholders match any word). */
function templateMayMatch(pattern: string, template: string): boolean {
  const p = pattern.split('.');
  const k = template.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') return match(i + 1, j) || (j < k.length && match(i, j + 1));
    if (j === k.length) return false;
    const word = k[j]!;
    return (p[i] === '*' || p[i] === word || /^\{.+\}$/.test(word)) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** Queues a route's jobs can reach through the topology's bindings (direct, topic, fanout; headers bindings listed as possible). */
export function routeQueues(t: Topology, routeName: string): string[] {
  const route = t.routes[routeName];
  if (route === undefined) return [];
  const out = new Set<string>();
  const visit = (exchange: string, depth: number) => {
    if (depth > 5) return;
    const type = t.exchanges[exchange]?.type ?? 'direct';
    for (const b of t.bindings) {
      if (b.source !== exchange) continue;
      const key = b.routingKey ?? '';
      const hit = type === 'fanout' || type === 'headers' || (type === 'topic' ? templateMayMatch(key, route.routingKey) : key === route.routingKey || /\{.+\}/.test(route.routingKey));
      if (!hit) continue;
      if (b.queue !== undefined) out.add(b.queue);
      if (b.exchange !== undefined) visit(b.exchange, depth + 1);
    }
  };
  visit(route.exchange, 0);
  return [...out].sort();
}

/** The topology as tables: routes and where they lead, queues with their consumers and dead-letter targets, exchanges, bindings. */
export function topologyPage(t: Topology): Html {
  const consumersOf = (queue: string) => Object.entries(t.consumers).filter(([, c]) => c.queue === queue);
  return html`<h1>Topology <span class="muted">vhost ${t.connection.vhost}</span></h1>
<div class="card"><h2>Routes: what clients POST, and where it lands</h2><table class="stack" id="routes-table"><thead><tr><th>Route</th><th>Exchange</th><th>Routing key</th><th>Schema</th><th>Reaches queues</th></tr></thead><tbody>
${Object.entries(t.routes).map(([name, r]) => html`<tr><td data-label="Route">${name}</td><td data-label="Exchange">${r.exchange}</td><td data-label="Routing key"><code>${r.routingKey}</code></td><td data-label="Schema">${r.schema}</td><td data-label="Reaches">${routeQueues(t, name).join(', ')}</td></tr>`)}
</tbody></table></div>
<div class="card"><h2>Queues: who drains them, where they dead-letter</h2><table class="stack" id="queues-topology"><thead><tr><th>Queue</th><th>Type</th><th>Consumers (handler → results)</th><th>Retry</th><th>Dead-letters to</th><th>Limits</th></tr></thead><tbody>
${Object.entries(t.queues).map(([name, q]) => html`<tr><td data-label="Queue">${name}</td><td data-label="Type">${q.type}</td><td data-label="Consumers">${consumersOf(name).map(([cn, c]) => html`<div>${cn}: ${c.handler}${c.results === undefined ? '' : ` → ${c.results.exchange}`}</div>`)}</td><td data-label="Retry">${q.retry ?? ''}</td><td data-label="Dead-letters to">${q.deadLetter === undefined ? '' : `${q.deadLetter.exchange}${q.deadLetter.routingKey === undefined ? '' : ` (${q.deadLetter.routingKey})`}`}</td><td data-label="Limits">${[q.maxLength === undefined ? '' : `max ${q.maxLength}`, q.deliveryLimit === undefined ? '' : `delivery limit ${q.deliveryLimit}`, q.overflow ?? ''].filter((s) => s !== '').join(', ')}</td></tr>`)}
</tbody></table></div>
<div class="grid">
<div class="card"><h2>Exchanges</h2><table><thead><tr><th>Exchange</th><th>Type</th></tr></thead><tbody>${Object.entries(t.exchanges).map(([name, e]) => html`<tr><td>${name}</td><td>${e.type}${e.internal ? ' (internal)' : ''}</td></tr>`)}</tbody></table></div>
<div class="card"><h2>Bindings</h2><table><thead><tr><th>Source</th><th>Key / headers</th><th>Destination</th></tr></thead><tbody>${t.bindings.map((b) => html`<tr><td>${b.source}</td><td><code>${b.headers === undefined ? (b.routingKey ?? '') : JSON.stringify(b.headers.values)}</code></td><td>${b.queue ?? `exchange ${b.exchange ?? ''}`}</td></tr>`)}</tbody></table></div>
</div>`;
}
