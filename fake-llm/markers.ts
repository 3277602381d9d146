/**
 * Magic markers a test (or a demo user) writes into the last user message to make the fake LLM
 * misbehave on purpose for that one request, e.g. `[[fail:429:retry-after=2]]` or `[[hang]]`.
 */

/** A way the fake server can answer other than a normal completion. */
export type Fault =
  | {
      kind: 'status';
      /** HTTP status answered (400..599). */
      status: number;
      /** Variant of the error body: `context-length`, `content-filter` (400), `quota` (429). */
      variant?: FaultVariant;
      /** Sent as `retry-after` (seconds, rounded up) and `retry-after-ms`; null sends none (429 defaults to 1 s). */
      retryAfterMs?: number | null;
    }
  | { kind: 'hang' }
  | { kind: 'content-filter' };

/** Error body variants that change the OpenAI error `code`. */
export type FaultVariant = 'context-length' | 'content-filter' | 'quota';

/** What the markers of one message ask for. */
export interface MarkerDirectives {
  /** Fault to answer with (`[[fail:…]]`, `[[hang]]`, `[[content-filter]]`); the last one wins. */
  fault?: Fault;
  /** Latency of this request in ms, replacing the configured one (`[[delay:1500]]`). */
  delayMs?: number;
  /** Fail the first N requests with the same content (`[[fail-first:N]]` or `[[fail-first:N:429]]`). */
  failFirst?: { count: number; fault: Fault };
  /** Pause between the chunks of a streamed answer in ms, replacing the configured one (`[[chunk-delay:200]]`). */
  chunkDelayMs?: number;
  /** Cut the connection halfway through a streamed answer for the first N requests with the same content (`[[cut-first:N]]`). */
  cutFirst?: number;
}

/** A marker with a known name but arguments the server cannot understand. */
export class MarkerSyntaxError extends Error {
  override readonly name = 'MarkerSyntaxError';
  readonly code = 'FAKE_LLM_BAD_MARKER';
}

const MARKER = /\[\[([a-z-]+)(?::([^\]]*))?\]\]/g;
const VARIANTS: ReadonlySet<string> = new Set(['context-length', 'content-filter', 'quota']);
const KNOWN = new Set(['fail', 'fail-first', 'hang', 'delay', 'content-filter', 'chunk-delay', 'cut-first']);

/** Cheap pre-check so the regex only runs on messages that can hold a marker. */
export function hasMarkers(text: string): boolean {
  return text.includes('[[');
}

/**
 * Reads the markers of a message. Unknown names such as `[[note]]` are left alone (a prompt may
 * contain double brackets); a known name with bad arguments throws {@link MarkerSyntaxError}, so a
 * typo in a test fails loudly instead of silently succeeding.
 */
export function parseMarkers(text: string): MarkerDirectives {
  const directives: MarkerDirectives = {};
  if (!hasMarkers(text)) return directives;
  for (const match of text.matchAll(MARKER)) {
    const name = match[1] ?? '';
    const args = match[2] === undefined ? [] : match[2].split(':');
    if (!KNOWN.has(name)) continue;
    switch (name) {
      case 'fail':
        directives.fault = parseStatusFault(args, match[0]);
        break;
      case 'fail-first': {
        const count = parseNonNegativeInt(args[0], match[0]);
        const fault = args.length > 1 ? parseStatusFault(args.slice(1), match[0]) : ({ kind: 'status', status: 500 } as const);
        directives.failFirst = { count, fault };
        break;
      }
      case 'hang':
        directives.fault = { kind: 'hang' };
        break;
      case 'content-filter':
        directives.fault = { kind: 'content-filter' };
        break;
      case 'delay':
        directives.delayMs = parseNonNegativeInt(args[0], match[0]);
        break;
      case 'chunk-delay':
        directives.chunkDelayMs = parseNonNegativeInt(args[0], match[0]);
        break;
      case 'cut-first':
        directives.cutFirst = parseNonNegativeInt(args[0], match[0]);
        break;
    }
  }
  return directives;
}

/** The text with every known marker removed (what the fake "model" echoes back). */
export function stripMarkers(text: string): string {
  if (!hasMarkers(text)) return text;
  return text.replace(MARKER, (whole, name: string) => (KNOWN.has(name) ? '' : whole)).trim();
}

function parseStatusFault(args: readonly string[], marker: string): Fault {
  const status = parseNonNegativeInt(args[0], marker);
  if (status < 400 || status > 599) throw new MarkerSyntaxError(`${marker}: status must be 400..599`);
  const fault: Fault & { kind: 'status' } = { kind: 'status', status };
  for (const arg of args.slice(1)) {
    const [key, value] = arg.split('=', 2) as [string, string | undefined];
    if (key === 'retry-after' && value === 'none') {
      fault.retryAfterMs = null;
    } else if (key === 'retry-after' && value !== undefined) {
      fault.retryAfterMs = parseSeconds(value, marker) * 1000;
    } else if (key === 'retry-after-ms' && value !== undefined) {
      fault.retryAfterMs = parseNonNegativeInt(value, marker);
    } else if (value === undefined && VARIANTS.has(key)) {
      fault.variant = key as FaultVariant;
    } else {
      throw new MarkerSyntaxError(`${marker}: unknown option '${arg}' (use retry-after=S|none, retry-after-ms=MS, context-length, content-filter or quota)`);
    }
  }
  return fault;
}

function parseNonNegativeInt(value: string | undefined, marker: string): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new MarkerSyntaxError(`${marker}: expected a whole number, got '${value ?? ''}'`);
  return Number(value);
}

function parseSeconds(value: string, marker: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new MarkerSyntaxError(`${marker}: retry-after must be seconds, got '${value}'`);
  return Number(value);
}
