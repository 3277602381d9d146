import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestVhost, type TestVhost } from './helpers/test-vhost.ts';
import { SHIPPED_TOPOLOGY } from './helpers/topology.ts';

// The Grafana dashboard and the Prometheus alert rules may only name metrics that really exist: this
// runs `warren start all` (the shipped topology, own vhost) for a few jobs, reads the API's and the
// worker's /metrics and the RabbitMQ endpoint Prometheus scrapes, and checks every query against them.
const ROOT = resolve(import.meta.dirname, '../..');
const DASHBOARD = join(ROOT, 'deploy/grafana/dashboards/warren.json');
const RULES = join(ROOT, 'deploy/prometheus/alerts.yml');
const PROM_CONFIG = join(ROOT, 'deploy/prometheus/prometheus.yml');
const PROMTOOL = '/usr/bin/promtool'; // Debian's `prometheus` package (scripts/ensure-promtool.sh)
const run = promisify(execFile);

/** Series Prometheus makes itself, not read from any target's /metrics. */
const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/** The metric names a PromQL expression reads (functions, labels, strings, durations and Grafana variables left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\$\w+/g, ''); // Grafana variables
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(after) || PROMQL_WORDS.has(m[0].toLowerCase()) || /^\d/.test(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Every metric name an exposition offers: sample names, and the families its # TYPE lines declare (with histogram series). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      names.add(type[1] as string);
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${type[1]}${s}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1] as string);
  }
  return names;
}

interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: { expr: string }[];
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('dashboard and alert rules against the metrics warren really exposes', () => {
  let vh: TestVhost;
  let child: ChildProcess | undefined;
  const exposed = new Set<string>();

  beforeAll(async () => {
    vh = await createTestVhost('monitoring');
    const [apiPort, metricsPort, llmPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WARREN_AMQP_URL: vh.amqpUrl,
      WARREN_MANAGEMENT_URL: vh.managementUrl,
      WARREN_VHOST: vh.vhost,
      WARREN_AUTH: 'none',
      WARREN_API_PORT: String(apiPort),
      WARREN_METRICS_PORT: String(metricsPort),
      WARREN_LOG_FORMAT: 'json',
      OPENAI_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
      FAKE_LLM_LATENCY_MS: '5',
    };
    delete env.OPENAI_API_KEY;
    const proc = spawn(process.execPath, [join(ROOT, 'bin/warren.js'), '-f', SHIPPED_TOPOLOGY, 'start', 'all'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let log = '';
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`warren did not start:\n${log}`)), 60_000);
      const onData = (b: Buffer) => {
        log += b.toString();
        if (log.includes('workers consuming') && log.includes('API listening')) {
          clearTimeout(timer);
          ready();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => fail(new Error(`warren exited with ${code}:\n${log}`)));
    });
    const api = `http://127.0.0.1:${apiPort}`;
    // A short run: an LLM job that succeeds, a task that dead-letters, one retried once, one refused.
    const post = (route: string, body: unknown) => fetch(`${api}/v1/jobs/${route}?wait=20s`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answers = await Promise.all([
      post('chat', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
      post('task', { type: 'x', input: { fail: 'permanent' } }),
      post('task', { type: 'x', input: { failUntilAttempt: 2, retryAfterMs: 10 } }),
      post('task', { type: 42 }), // not a string: 400
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 400]);
    const [apiText, workerText] = await Promise.all([fetch(`${api}/metrics`).then((r) => r.text()), fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text())]);
    expect(workerText).toMatch(/warren_jobs_total\{[^}]*outcome="succeeded"/);
    expect(workerText).toMatch(/warren_dead_letters_total\{[^}]*\} 1/);
    // RabbitMQ's metrics as Prometheus scrapes them: each rabbitmq job of deploy/prometheus/prometheus.yml, on this broker.
    const config = parse(readFileSync(PROM_CONFIG, 'utf8')) as { scrape_configs: { job_name: string; metrics_path: string; params?: Record<string, string[]> }[] };
    const texts = [apiText, workerText];
    for (const job of config.scrape_configs.filter((j) => j.job_name.startsWith('rabbitmq'))) {
      const qs = new URLSearchParams(Object.entries(job.params ?? {}).flatMap(([k, vs]) => vs.map((v): [string, string] => [k, v])));
      const res = await fetch(`http://127.0.0.1:15692${job.metrics_path}${qs.size ? `?${qs}` : ''}`);
      expect(res.status, job.job_name).toBe(200);
      texts.push(await res.text());
    }
    for (const t of texts) for (const n of exposedNames(t)) exposed.add(n);
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await vh?.cleanup();
  });

  it('every dashboard panel query names only metrics that /metrics exposes', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } };
    const queries = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
    for (const v of dash.templating.list) {
      const m = typeof v.query === 'string' ? /^label_values\((\w+)/.exec(v.query) : null;
      if (m) queries.push({ where: `variable $${v.name}`, expr: m[1] as string });
    }
    expect(queries.length).toBeGreaterThanOrEqual(20);
    const missing = queries.flatMap((q) => metricNames(q.expr).filter((n) => !exposed.has(n)).map((n) => `${q.where}: ${n}`));
    expect(missing).toEqual([]);
    // Every family the issue asks for has a panel.
    const all = queries.map((q) => q.expr).join('\n');
    for (const name of ['warren_api_publishes_total', 'warren_jobs_total', 'warren_dead_letters_total', 'warren_job_handler_duration_seconds_bucket', 'warren_jobs_in_flight', 'warren_llm_tokens_total', 'warren_rate_limit_waits_total', 'rabbitmq_detailed_queue_messages']) {
      expect(all).toContain(name);
    }
  });

  it('every alert rule names only metrics that /metrics exposes (or Prometheus itself makes)', () => {
    const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; for?: string; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] };
    const list = rules.groups.flatMap((g) => g.rules);
    expect(list.map((r) => r.alert)).toEqual(expect.arrayContaining(['WarrenDeadLetterQueueGrowing', 'WarrenConsumersGone', 'WarrenPublishRejections', 'WarrenProviderErrors']));
    const missing = list.flatMap((r) => metricNames(r.expr).filter((n) => !exposed.has(n) && !PROMETHEUS_SYNTHETIC.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(missing).toEqual([]);
    // Schema: what Alertmanager routes on and what people read.
    for (const r of list) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('the metric-name extraction sees through functions, labels and variables (and so cannot pass vacuously)', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, route) (rate(warren_x_bucket{a="b(c)"}[$__rate_interval])))')).toEqual(['warren_x_bucket']);
    expect(metricNames('sum by (q) (a_metric) == 0 and on (q) sum(b_metric{q=~".+[.]dead"}) > 0')).toEqual(['a_metric', 'b_metric']);
    expect(exposed.has('warren_no_such_metric')).toBe(false);
  });

  it.runIf(existsSync(PROMTOOL))('passes promtool check rules, and promtool check config', async () => {
    const rules = await run(PROMTOOL, ['check', 'rules', RULES]);
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
    // The config names the rules by their path inside the container: check a copy that points at the file here.
    const dir = mkdtempSync(join(tmpdir(), 'warren-prom-'));
    try {
      copyFileSync(RULES, join(dir, 'alerts.yml'));
      writeFileSync(join(dir, 'prometheus.yml'), readFileSync(PROM_CONFIG, 'utf8').replace('/etc/prometheus/alerts.yml', join(dir, 'alerts.yml')));
      const config = await run(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')]);
      expect(config.stdout).toMatch(/SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
