import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManagementClient, seg, type ManagementClient } from '../../../src/broker/management-client.ts';
import { loadTopology } from '../../../src/config/load-topology.ts';
import { idempotentJobId } from '../../../src/api/jobs/idempotency.ts';
import { createFakeLlmServer, type FakeLlmServer, type FakeLlmServerOptions } from '../../../fake-llm/index.ts';
import { ensureTopology } from '../../../src/topology/ensure-topology.ts';
import { declareObserverStreams, observeFinishes, type FinishObserver } from './finish-observer.ts';
import { createJobLedger, formatReport, type JobLedger, type LedgerReport } from './job-ledger.ts';
import { runLoad, type LoadOptions, type LoadSummary, type Submit, type SubmitResult } from './load-driver.ts';
import { recordScenario } from './scenario-report.ts';
import { SCENARIO, writeScenarioTopology, type ScenarioTopologyOptions } from './scenario-topology.ts';
import type { ManagedProcess } from './spawn-process.ts';
import { startApiProcess, startWorkerProcess, type ApiProcess } from './warren-processes.ts';
import { deleteVhostWithEventKey } from '../../../src/jobs/job-event-key.ts';

/** Where a scenario's broker is: one node (CI) or the local cluster. */
export interface ScenarioBroker {
  /** AMQP URLs without a vhost. */
  amqpUrls: readonly string[];
  managementUrl: string;
}

/** The shared single broker of the test suite. */
export const SINGLE_BROKER: ScenarioBroker = {
  amqpUrls: [process.env.WARREN_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'],
  managementUrl: process.env.WARREN_TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
};

/** The cluster started by scripts/cluster.sh (default ports). */
export const LOCAL_CLUSTER: ScenarioBroker = {
  amqpUrls: (process.env.WARREN_CLUSTER_AMQP_URLS ?? 'amqp://guest:guest@127.0.0.1:5681,amqp://guest:guest@127.0.0.1:5682,amqp://guest:guest@127.0.0.1:5683').split(','),
  managementUrl: process.env.WARREN_CLUSTER_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15681',
};

/** Options of {@link createScenario}. */
export interface ScenarioOptions {
  broker?: ScenarioBroker;
  /** Overrides of the scenario topology (timings, limits). */
  topology?: Partial<Omit<ScenarioTopologyOptions, 'dir' | 'urls' | 'management' | 'vhost' | 'llmBaseUrl'>>;
  /** AMQP URLs warren's processes get instead of the broker's (e.g. through a TCP proxy); receive the vhost-less URLs. */
  warrenUrls?: (brokerUrls: readonly string[]) => readonly string[];
  /** Fake LLM behaviour. @default 30 ms latency */
  llm?: FakeLlmServerOptions;
}

/** Everything one failure scenario runs on, and its cleanup. */
export interface Scenario {
  readonly name: string;
  readonly vhost: string;
  readonly topologyFile: string;
  /** AMQP URLs of the broker, with the vhost (for the observer and direct publishes). */
  readonly amqpUrls: readonly string[];
  readonly management: ManagementClient;
  readonly llm: FakeLlmServer;
  readonly ledger: JobLedger;
  readonly observer: FinishObserver;
  /** Starts an API process on a fixed port (so a restarted one comes back on the same URL). */
  startApi(name: string, port: number): Promise<ApiProcess>;
  /** Starts a worker process; `env` adds variables (e.g. WARREN_METRICS_PORT to scrape its /metrics). */
  startWorker(name: string, env?: NodeJS.ProcessEnv): Promise<ManagedProcess>;
  /** Processes started so far (cleanup kills the ones still running). */
  processes(): ManagedProcess[];
  /** The job id the API gives a request with this Idempotency-Key. */
  jobIdFor(clientKey: string): string;
  /** A submit function posting chat jobs round-robin to the given API URLs (read at each call). */
  submitter(apiUrls: () => readonly string[], prompt?: (seq: number) => string): Submit;
  /**
   * Remembers which jobs were submitted more than once (retried after 503 or no answer), to split
   * duplicates into "the client retried a publish that had in fact been stored" and the rest.
   */
  retryTracker(): RetryTracker;
  /** Runs load against the API(s), recording into the ledger. */
  load(options: Omit<LoadOptions, 'ledger'>): Promise<LoadSummary>;
  /**
   * Load from a well-behaved client: chat jobs round-robin to `apiUrls`, and a request that got
   * no answer or a 503 is sent again (after at least its Retry-After) with the same
   * Idempotency-Key, up to `retries` times. `split` tells the duplicates the client re-sent
   * from the rest (see retryTracker).
   */
  clientLoad(apiUrls: () => readonly string[], options: ClientLoadOptions): { done: Promise<LoadSummary>; split: RetryTracker['split']; unknownOutcomes: RetryTracker['unknownOutcomes'] };
  /** Waits until every accepted job finished, then returns the report (printed and recorded). */
  finish(options?: { settleTimeoutMs?: number; notes?: string | ((report: LedgerReport) => string) }): Promise<LedgerReport>;
  /**
   * Jobs whose `GET /v1/jobs/{id}` is not terminal on the given API (the status view must show each job once,
   * finished). The API reads the job events on its own, behind the scenario's observer: jobs not terminal yet are
   * asked again for up to 30 s (a lost event stays lost, and is returned, with the refusal's code and the replica's
   * /readyz when any is left).
   */
  nonTerminalInStatusView(apiUrl: string, ids: readonly string[]): Promise<string[]>;
  /** Ready messages in a queue of the vhost (management API, lags a few seconds). */
  queueDepth(queue: string): Promise<number>;
  cleanup(): Promise<void>;
}

/** See {@link Scenario.clientLoad}. */
export type ClientLoadOptions = Required<Pick<LoadOptions, 'ratePerSecond' | 'durationMs' | 'maxInFlight' | 'retries'>>;

/** See {@link Scenario.retryTracker}. */
export interface RetryTracker {
  onAttempt: NonNullable<LoadOptions['onAttempt']>;
  /** Duplicate job ids split by whether the client had re-sent them. */
  split(duplicateIds: readonly string[]): { resent: number; other: number };
  /**
   * Answers after which the client could not know whether the job was stored: no answer at all, or a 503
   * that says "may not be stored" (the publish was written, its confirm never came). Only these let a
   * re-send with the same Idempotency-Key publish a job a second time; definitive refusals ("not
   * published", PUBLISH_REJECTED, PUBLISH_BACKPRESSURE) do not.
   */
  unknownOutcomes(): number;
}

/** Chat job body; the prompt may carry fake-LLM markers. */
export function chatBody(prompt: string, clientKey: string): string {
  return JSON.stringify({ model: 'warren-fake', messages: [{ role: 'user', content: prompt }], metadata: { key: clientKey } });
}

/**
 * Sets up one scenario: its own vhost, the topology applied, observer streams,
 * a fake LLM in this process and the ledger. Processes are started by the test.
 */
export async function createScenario(name: string, options: ScenarioOptions = {}): Promise<Scenario> {
  const broker = options.broker ?? SINGLE_BROKER;
  // Vhost creation and deletion are synchronous on the broker and slow down under load: allow a minute.
  const management = createManagementClient({ url: broker.managementUrl, timeoutMs: 60_000 });
  const vhost = `warren-chaos-${name}-${randomUUID().slice(0, 8)}`;
  await management.put(`/vhosts/${seg(vhost)}`, {});
  await management.put(`/permissions/${seg(vhost)}/guest`, { configure: '.*', write: '.*', read: '.*' });
  const withVhost = (u: string) => `${u.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`;
  const amqpUrls = broker.amqpUrls.map(withVhost);

  const llm = await createFakeLlmServer({ latencyMs: 30, ...options.llm });
  const dir = mkdtempSync(join(tmpdir(), `warren-chaos-${name}-`));
  const warrenUrls = options.warrenUrls ? options.warrenUrls(broker.amqpUrls) : broker.amqpUrls;
  const topologyFile = writeScenarioTopology({
    dir,
    urls: warrenUrls,
    management: broker.managementUrl,
    vhost,
    llmBaseUrl: llm.url,
    ...options.topology,
  });
  const loaded = loadTopology(topologyFile, { env: process.env, checkHandlers: false });
  await ensureTopology(loaded.topology, management);
  await declareObserverStreams(amqpUrls[0] as string);

  const ledger = createJobLedger();
  const observer = observeFinishes(amqpUrls, ledger);
  const procs: ManagedProcess[] = [];
  let roundRobin = 0;

  const scenario: Scenario = {
    name,
    vhost,
    topologyFile,
    amqpUrls,
    management,
    llm,
    ledger,
    observer,
    processes: () => [...procs],
    async startApi(procName, port) {
      const api = await startApiProcess({ name: procName, topologyFile, port });
      procs.push(api.proc);
      return api;
    },
    async startWorker(procName, env) {
      const w = await startWorkerProcess({ name: procName, topologyFile, ...(env === undefined ? {} : { env }) });
      procs.push(w);
      return w;
    },
    jobIdFor: (clientKey) => idempotentJobId('anonymous', `route:${SCENARIO.route}`, clientKey),
    submitter(apiUrls, prompt) {
      return async (seq, clientKey): Promise<SubmitResult> => {
        const urls = apiUrls();
        const base = urls[roundRobin++ % urls.length] as string;
        try {
          const res = await fetch(`${base}/v1/jobs/${SCENARIO.route}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': clientKey },
            body: chatBody(prompt ? prompt(seq) : `chaos job ${clientKey}`, clientKey),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          if (res.status === 202 || res.status === 200) {
            const id = (JSON.parse(text) as { id: string }).id;
            return { kind: 'accepted', jobId: id, status: res.status };
          }
          const retryAfter = res.headers.get('retry-after');
          let code: string | undefined;
          let message: string | undefined;
          try {
            const error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
            code = error?.code;
            message = error?.message;
          } catch {
            // not a JSON error body
          }
          return {
            kind: 'rejected',
            status: res.status,
            jobId: scenario.jobIdFor(clientKey),
            ...(retryAfter === null ? {} : { retryAfter }),
            ...(code === undefined ? {} : { code }),
            ...(message === undefined ? {} : { message }),
          };
        } catch (err) {
          // fetch says only "fetch failed"; the cause tells a refused connection from one cut mid-request.
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          return { kind: 'no-answer', error: [(err as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ') };
        }
      };
    },
    retryTracker() {
      const resent = new Set<string>();
      let unknown = 0;
      return {
        onAttempt: (_seq, clientKey, result, attempt) => {
          if (attempt > 1) resent.add(scenario.jobIdFor(clientKey));
          if (result.kind === 'no-answer' || (result.kind === 'rejected' && result.status === 503 && /may not be stored/.test(result.message ?? ''))) unknown += 1;
        },
        unknownOutcomes: () => unknown,
        split: (ids) => {
          const n = ids.filter((id) => resent.has(id)).length;
          return { resent: n, other: ids.length - n };
        },
      };
    },
    load: (o) => runLoad({ ...o, ledger }),
    clientLoad(apiUrls, o) {
      const tracker = scenario.retryTracker();
      const done = scenario.load({
        ...o,
        onAttempt: tracker.onAttempt,
        submit: scenario.submitter(apiUrls),
        retryOn: (r) => r.kind === 'no-answer' || (r.kind === 'rejected' && r.status === 503),
      });
      return { done, split: tracker.split, unknownOutcomes: tracker.unknownOutcomes };
    },
    async finish(o = {}) {
      await observer.settle(o.settleTimeoutMs ?? 60_000);
      const report = ledger.report();
      const line = formatReport(name, report);
      const notes = typeof o.notes === 'function' ? o.notes(report) : o.notes;
      console.log(`[chaos] ${line}${notes ? `\n[chaos]   ${notes}` : ''}`);
      recordScenario(name, report, line, notes);
      return report;
    },
    async nonTerminalInStatusView(apiUrl, ids) {
      const check = async (toCheck: readonly string[]): Promise<{ id: string; seen: string }[]> => {
        const bad: { id: string; seen: string }[] = [];
        let i = 0;
        const worker = async () => {
          while (i < toCheck.length) {
            const id = toCheck[i++] as string;
            const res = await fetch(`${apiUrl}/v1/jobs/${id}`, { signal: AbortSignal.timeout(10_000) });
            const body = (await res.json().catch(() => undefined)) as { id?: string; status?: string; error?: { code?: string } } | undefined;
            const view = res.ok ? body : undefined;
            // A refusal says which (STATUS_HISTORY_INDEXING, STATUS_INDEX_REPLAYING, ...): a failure must tell why.
            if (!view || view.id !== id || (view.status !== 'succeeded' && view.status !== 'dead-lettered')) bad.push({ id, seen: `${view?.status ?? `${res.status}:${body?.error?.code ?? '?'}`}` });
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        return bad;
      };
      const deadline = Date.now() + 30_000;
      let bad = await check(ids);
      while (bad.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1_000));
        bad = await check(bad.map((b) => b.id));
      }
      if (bad.length > 0) {
        // What the replica says about its history (indexed or not, checkpoints) goes with the failure.
        const ready = await fetch(`${apiUrl}/readyz`).then((r) => r.text(), (err: unknown) => String(err));
        return [...bad.map((b) => `${b.id}:${b.seen}`), `readyz: ${ready.slice(0, 600)}`];
      }
      return [];
    },
    async queueDepth(queue) {
      const q = (await management.get(`/queues/${seg(vhost)}/${seg(queue)}`)) as { messages?: number };
      return q.messages ?? 0;
    },
    async cleanup() {
      await Promise.all(procs.map((p) => p.stop(5_000)));
      await observer.close();
      await llm.close();
      await deleteVhostWithEventKey(management, vhost).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return scenario;
}
