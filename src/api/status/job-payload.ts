import type { StoredPayload } from '../../jobs/job-event-payload.ts';

/** A part of the job-events stream, by offsets (inclusive). */
export interface StreamRange {
  start: number;
  end: number;
}

/** Reads the payloads stored for one job in a range, in stream order (HistoryReads.readPayloads). */
export type ReadJobPayloads = (start: number, end: number, id: string, out: (p: StoredPayload) => void) => Promise<void>;

/**
 * The payload stored for a job (job-event-payload.ts), read from the stream on
 * demand: the status index never holds payloads, so its memory does not grow
 * with them. `ranges` are the parts that may hold the job's records, oldest
 * first (the history's segments whose filter names the job, and the open
 * part); they are read at once (usually one or two, ~1 MiB each, as a status
 * lookup reads them) and the payload of the oldest range that holds one is
 * the answer (a job's payload is written once, with its first event).
 * Undefined when none does: payloads were off
 * (`jobEvents.payloadBytes: 0`) or the job was written before they were kept,
 * or its payload is not in the stream yet.
 */
export async function findStoredPayload(ranges: readonly StreamRange[], read: ReadJobPayloads, id: string): Promise<StoredPayload | undefined> {
  const found: (StoredPayload | undefined)[] = ranges.map(() => undefined);
  await Promise.all(
    ranges.map((r, i) =>
      read(r.start, r.end, id, (p) => {
        found[i] ??= p;
      }),
    ),
  );
  return found.find((p) => p !== undefined);
}
