/**
 * One API key misbehaving in every way issue #10 names, for noisy-tenant.chaos.test.ts.
 * Run as a child process (`node --import tsx`) so its own work (building and uploading
 * 16 MiB bodies, 500 sockets) never delays the measuring process's event loop.
 *
 * Once its streams are up it prints `ATTACK READY`; for ATTACK_DURATION_MS from then it keeps, at once:
 * - ATTACK_STREAMS SSE connections open on one job (a refused one retries after its Retry-After);
 * - ATTACK_BATCH_SENDERS senders of 16 MiB batches to ATTACK_BATCH_ROUTE, each sending the next
 *   as soon as it has an answer (after a 429, once its Retry-After has passed);
 * - ATTACK_MALFORMED_PER_SECOND publishes to ATTACK_EXCHANGE with every reserved header
 *   (CC, BCC, x-*, traceparent), oversized header tables, malformed JSON and bad routing keys.
 *
 * Then it closes everything and prints `ATTACK SUMMARY <json>`.
 *
 * It runs at the lowest CPU priority: in production an attacker's client runs on its own machine, here
 * it shares two cores with the API, and its own HTTP client work would otherwise be measured as the
 * API's failure to isolate tenants. What the API spends on its requests is still spent at full priority.
 */
import { setMaxListeners } from 'node:events';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

setPriority(19);

const env = process.env;
const api = env.ATTACK_API_URL ?? '';
const key = env.ATTACK_KEY ?? '';
const durationMs = Number(env.ATTACK_DURATION_MS ?? 10_000);
const streams = Number(env.ATTACK_STREAMS ?? 500);
const batchSenders = Number(env.ATTACK_BATCH_SENDERS ?? 5);
const malformedPerSecond = Number(env.ATTACK_MALFORMED_PER_SECOND ?? 20);
const exchange = env.ATTACK_EXCHANGE ?? 'uploads';
const batchRoute = env.ATTACK_BATCH_ROUTE ?? 'bulk';
const auth = { authorization: `Bearer ${key}` };
const json = { ...auth, 'content-type': 'application/json' };

const tally: Record<string, Record<string, number>> = { sse: {}, batch: {}, malformed: {} };
const count = (what: string, label: string) => {
  const t = (tally[what] ??= {});
  t[label] = (t[label] ?? 0) + 1;
};

async function answer(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    return code === undefined ? String(res.status) : `${res.status}:${code}`;
  } catch {
    return String(res.status);
  }
}

function chatJob(bytes: number): Record<string, unknown> {
  return { model: 'warren-fake', messages: [{ role: 'user', content: 'x'.repeat(bytes) }] };
}

// 1000 jobs of ~16.5 KB: a body just under the 16 MiB batch limit, built once.
const batchBody = Buffer.from(JSON.stringify({ mode: 'best-effort', jobs: Array.from({ length: 1000 }, () => chatJob(16_400)) }));

const bigHeaders = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`h${i}`, 'y'.repeat(4096)]));
const MALFORMED: { label: string; body: string }[] = [
  ...['CC', 'BCC', 'cc', 'x-death', 'x-first-death-queue', 'x-delay', 'x-match', 'x-deduplication-header', 'x-warren-origin-exchange', 'traceparent', 'timestamp_in_ms'].map((h) => ({
    label: `header ${h}`,
    body: JSON.stringify({ routingKey: 'uploads', headers: { [h]: h === 'traceparent' ? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' : 'llm.standard.chat' }, payload: { forged: true } }),
  })),
  { label: 'headers over 64 KiB', body: JSON.stringify({ routingKey: 'uploads', headers: bigHeaders, payload: {} }) },
  { label: 'routing key over 255 bytes', body: JSON.stringify({ routingKey: 'é'.repeat(200), payload: {} }) },
  { label: 'malformed JSON', body: '{"routingKey": "uploads", "payload": ' },
  { label: 'header object value', body: JSON.stringify({ routingKey: 'uploads', headers: { a: { b: 1 } }, payload: {} }) },
];

async function main(): Promise<void> {
  const created = await fetch(`${api}/v1/jobs/chat`, { method: 'POST', headers: json, body: JSON.stringify(chatJob(10)) });
  if (created.status !== 202) throw new Error(`attacker could not create its job: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  // Set once the streams are up: the attack's duration is what the victim is measured under.
  let deadline = Infinity;
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);

  let open = 0;
  let peakOpen = 0;
  let firstAnswers = 0;
  let ready: () => void = () => undefined;
  const allAnswered = new Promise<void>((r) => (ready = r));
  const stream = async () => {
    let first = true;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${api}/v1/jobs/${id}/events`, { headers: auth, signal: stop.signal });
        count('sse', String(res.status));
        if (first && ++firstAnswers === streams) ready();
        first = false;
        if (res.status === 200 && res.body) {
          open++;
          peakOpen = Math.max(peakOpen, open);
          try {
            for await (const _chunk of res.body) {
              // held open until the attack ends
            }
          } catch {
            // aborted at the end
          } finally {
            open--;
          }
        } else {
          await res.body?.cancel();
          await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } catch {
        if (first && ++firstAnswers === streams) ready();
        first = false;
        if (stop.signal.aborted) return;
        count('sse', 'no-answer');
        await sleep(200);
      }
    }
  };
  const sse = Array.from({ length: streams }, stream);
  await Promise.race([allAnswered, sleep(15_000)]);
  deadline = Date.now() + durationMs;
  setTimeout(() => stop.abort(), durationMs).unref();
  console.log(`ATTACK READY ${JSON.stringify({ streamsOpen: open })}`);

  const batches = Array.from({ length: batchSenders }, async () => {
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${api}/v1/jobs/${batchRoute}/batch`, { method: 'POST', headers: json, body: batchBody, signal: stop.signal });
        count('batch', await answer(res));
        if (res.status === 429) await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
      } catch {
        if (stop.signal.aborted) return;
        count('batch', 'no-answer');
        await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  });

  const malformed = (async () => {
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; Date.now() < deadline; i++) {
      const m = MALFORMED[i % MALFORMED.length] as { label: string; body: string };
      const p = fetch(`${api}/v1/publish/${exchange}`, { method: 'POST', headers: json, body: m.body, signal: stop.signal })
        .then(async (res) => count('malformed', `${m.label} -> ${await answer(res)}`))
        .catch(() => {
          if (!stop.signal.aborted) count('malformed', `${m.label} -> no-answer`);
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      await sleep(1000 / malformedPerSecond);
    }
    await Promise.all(inFlight);
  })();

  await Promise.all([...batches, malformed]);
  stop.abort();
  await Promise.all(sse);
  console.log(`ATTACK SUMMARY ${JSON.stringify({ peakStreamsOpen: peakOpen, tally })}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`attacker failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
