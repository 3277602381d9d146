import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Steps aside after `sliceMs` of work for as long again: other requests' I/O and
 * timers run meanwhile, and a long task (a 16 MiB batch) takes at most about
 * half of the process's CPU while it runs instead of all of it, on a machine
 * whose cores the broker also needs.
 */
export function stepAside(sliceMs: number): Promise<void> {
  return sleep(sliceMs);
}

/**
 * `items.map(fn)` that steps aside (see stepAside) whenever it has run for
 * `sliceMs`: a 1000-job batch builds 16 MiB of messages, which held every other
 * request of the process for a few hundred milliseconds when done in one go.
 * Small inputs finish in their first slice, without a pause.
 */
export async function mapTimeSliced<T, R>(items: readonly T[], fn: (item: T, index: number) => R, sliceMs = 4): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let sliceEnd = performance.now() + sliceMs;
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i] as T, i);
    // Reading the clock every 16 items keeps its cost out of the common small case.
    if ((i & 15) === 15 && performance.now() > sliceEnd) {
      await stepAside(sliceMs);
      sliceEnd = performance.now() + sliceMs;
    }
  }
  return out;
}

/** Bounds of {@link mapWindowed}. */
export interface Window<T> {
  /** Tasks unsettled at once. */
  count: number;
  /** Weight (e.g. bytes) of the unsettled tasks; one task is always let through. */
  weight?: number;
  /** Weight of one item. @default 0 */
  weigh?: (item: T) => number;
}

/**
 * `Promise.all(items.map(fn))` with at most `window.count` tasks (and
 * `window.weight`) unsettled at once, started in order as earlier ones settle;
 * results in input order. `fn` should not reject (the first rejection rejects
 * the whole and starts nothing more). Used to pace a batch's publishes: a
 * batch on the shared confirm channel never puts more than a window of its
 * messages ahead of another request's.
 */
export function mapWindowed<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, window: Window<T>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  if (items.length === 0) return Promise.resolve(out);
  const maxWeight = window.weight ?? Infinity;
  const weigh = window.weigh ?? (() => 0);
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let running = 0;
    let weight = 0;
    let done = 0;
    let failed = false;
    const pump = () => {
      while (!failed && next < items.length && running < window.count) {
        const item = items[next] as T;
        const w = weigh(item);
        if (running > 0 && weight + w > maxWeight) break;
        const index = next++;
        running++;
        weight += w;
        fn(item, index).then(
          (r) => {
            out[index] = r;
            running--;
            weight -= w;
            if (++done === items.length) resolve(out);
            else pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    pump();
  });
}
