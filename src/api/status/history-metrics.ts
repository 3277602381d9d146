import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobHistory } from './job-history.ts';

/**
 * The job history's metrics, read from its state at scrape time (nothing is
 * counted on the hot path): how old the oldest job status is, how much is
 * indexed and what it costs in memory, and what was skipped.
 */
export function registerHistoryMetrics(registry: Registry, history: Pick<JobHistory, 'state'>, prefix = 'warren_api_'): void {
  const state = () => history.state();
  new Gauge({
    name: `${prefix}job_events_oldest_age_seconds`,
    help: 'Age of the oldest job event the job-events stream still holds: how far back job status, results and Idempotency-Keys reach (compare with jobEvents.maxAge).',
    registers: [registry],
    collect() {
      const ts = state().oldestTs;
      if (ts === undefined) this.reset();
      else this.set(Math.max(0, (Date.now() - ts) / 1000));
    },
  });
  new Gauge({
    name: `${prefix}job_history_indexed`,
    help: '1 when every retained offset of the job-events stream is indexed (0 while a first start after an upgrade indexes it).',
    registers: [registry],
    collect() {
      this.set(state().indexed ? 1 : 0);
    },
  });
  new Gauge({
    name: `${prefix}job_history_segments`,
    help: 'History segments (about 1 MiB of the job-events stream each) this replica can look jobs up in.',
    registers: [registry],
    collect() {
      this.set(state().segments);
    },
  });
  new Gauge({
    name: `${prefix}job_history_filter_bytes`,
    help: 'Memory held by the id filters of the history segments (about 3 bytes per job and segment).',
    registers: [registry],
    collect() {
      this.set(state().filterBytes);
    },
  });
  new Counter({
    name: `${prefix}job_history_lookups_total`,
    help: 'Job lookups that read the job-events stream (the status cache did not hold the whole job).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(state().lookups);
    },
  });
  new Counter({
    name: `${prefix}job_events_malformed_total`,
    help: 'Entries of signed job-events messages that were not job events (skipped, never fatal).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(state().eventsMalformed);
    },
  });
  new Counter({
    name: `${prefix}job_history_checkpoints_rejected_total`,
    help: 'Checkpoint-stream messages skipped: unsigned, signed with another key, or not a checkpoint.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(state().checkpointsRejected);
    },
  });
}
