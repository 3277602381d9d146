import { TERMINAL_STATUSES, type JobEvent, type JobStatus } from '../../jobs/job-event.ts';

/** One attempt of a job as shown by GET /v1/jobs/{id}. */
export interface AttemptView {
  attempt: number;
  status: JobStatus;
  /** When the handler started: from the `running` event, or `endedAt - durationMs` for a job quicker than that event's delay. */
  startedAt?: string;
  endedAt?: string;
  /** How long the handler ran, in ms. */
  durationMs?: number;
  error?: { class: string; message: string };
  retryInMs?: number;
}

/** What GET /v1/jobs/{id} returns (and each SSE message carries). */
export interface JobStatusView {
  id: string;
  route?: string;
  queue?: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  attempts: AttemptView[];
  result?: unknown;
  usage?: JobEvent['usage'];
  /** Status `blocked` only: the dead-lettered job of the same ordering key that holds this one back. */
  blockedBy?: string;
}

/** True for states after which a job changes no more (until an operator requeues it). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}
