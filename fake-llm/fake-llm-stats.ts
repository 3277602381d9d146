/** Counters of a fake LLM server since start (or the last `resetStats`). */
export interface FakeLlmStats {
  /** Chat completion requests received (any outcome). */
  requests: number;
  /** Chat completions answered 200. */
  completed: number;
  /** Answers by HTTP status, e.g. `{ '200': 10, '429': 2 }`. */
  byStatus: Record<string, number>;
  /** Every 429 answered: own RPM limit, outage, markers and configured failures. */
  rateLimited: number;
  /** 429s from the server's own RPM limit only. */
  rpmRejected: number;
  /** Chat requests being handled now (including hanging ones). */
  inFlight: number;
  /** Highest `inFlight` seen. */
  maxConcurrent: number;
  /** Requests held open by `[[hang]]` or a hang failure right now. */
  hanging: number;
  /** Requests whose client went away before the answer. */
  aborted: number;
  /** Sum of prompt / completion tokens reported in `usage`. */
  promptTokens: number;
  completionTokens: number;
}

/** Mutable counters plus a snapshot function (the snapshot is a copy callers may keep). */
export interface FakeLlmStatsRecorder {
  readonly current: FakeLlmStats;
  answered(status: number): void;
  snapshot(): FakeLlmStats;
  reset(): void;
}

function emptyStats(): FakeLlmStats {
  return {
    requests: 0,
    completed: 0,
    byStatus: {},
    rateLimited: 0,
    rpmRejected: 0,
    inFlight: 0,
    maxConcurrent: 0,
    hanging: 0,
    aborted: 0,
    promptTokens: 0,
    completionTokens: 0,
  };
}

/** Creates the counters; `reset` keeps the live gauges (in flight, hanging). */
export function createFakeLlmStats(): FakeLlmStatsRecorder {
  let stats = emptyStats();
  return {
    get current() {
      return stats;
    },
    answered(status) {
      const key = String(status);
      stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
      if (status === 200) stats.completed++;
      if (status === 429) stats.rateLimited++;
    },
    snapshot() {
      return { ...stats, byStatus: { ...stats.byStatus } };
    },
    reset() {
      const { inFlight, hanging } = stats;
      stats = { ...emptyStats(), inFlight, hanging, maxConcurrent: inFlight };
    },
  };
}
