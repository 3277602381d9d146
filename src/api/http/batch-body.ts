import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { stepAside } from '../../util/time-sliced.ts';
import { ApiError } from '../api-error.ts';
import { header } from './header.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds, parseJsonText, requireJsonType } from './json-body.ts';

/** A batch body: what `JSON.parse` makes of it, and the bytes of each job as sent. */
export interface BatchBody {
  /** The parsed body, equal to `JSON.parse` of the whole body. */
  value: unknown;
  /**
   * For a body that is an array of jobs, or an object whose last `jobs` member is one: each job's
   * own bytes as sent (`toString('utf8')` is the text it was parsed from). Undefined for any other
   * shape. Bytes rather than strings: 16 MiB of job texts kept on the heap while a batch is
   * published were copied by every young-generation GC meanwhile (pauses of tens of ms).
   */
  itemBytes: Buffer[] | undefined;
  /** Bytes read. */
  bytes: number;
  /**
   * True when {@link ReadBatchOptions.mapItem} was applied: the job array of `value` holds what it
   * returned for each job instead of the parsed job.
   */
  mapped: boolean;
}

/** Options of {@link readBatchBody}. */
export interface ReadBatchOptions {
  /** Work done at a time before other requests get their turn (ms). @default 4 */
  sliceMs?: number;
  /** Pause after each slice of parsing (ms): the share of a core a batch takes is sliceMs / (sliceMs + restMs). @default sliceMs */
  restMs?: number;
  /**
   * Applied to each job as soon as it is parsed, with the text it was parsed from; its result takes
   * the job's place and the parsed job is dropped. A batch's 1000 parsed jobs (16 MiB of strings)
   * kept alive until the last was read survived the young-generation GCs meanwhile, and each of
   * those copied them: pauses of 10 to 20 ms that every other request of the process waited out.
   * Not applied when the body is parsed whole (a shape the scan does not follow), nor when the job
   * array holds none or more than `maxItems` jobs (the caller refuses those as they are).
   */
  mapItem?: (value: unknown, text: string, index: number) => unknown;
  /** See `mapItem`. @default Infinity */
  maxItems?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** The bytes of a body as the chunks they arrived in, addressed by offset. */
class Chunks {
  readonly list: Buffer[] = [];
  readonly starts: number[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.list.push(chunk);
    this.starts.push(this.length);
    this.length += chunk.length;
  }

  /** Bytes [start, end), copied only when they span chunks. */
  slice(start: number, end: number): Buffer {
    let i = this.indexOf(start);
    const first = this.list[i] as Buffer;
    const from = start - (this.starts[i] as number);
    if (end - (this.starts[i] as number) <= first.length) return first.subarray(from, end - (this.starts[i] as number));
    const out = Buffer.allocUnsafe(end - start);
    let written = first.copy(out, 0, from);
    while (written < out.length) {
      i++;
      written += (this.list[i] as Buffer).copy(out, written, 0, Math.min((this.list[i] as Buffer).length, out.length - written));
    }
    return out;
  }

  all(): Buffer {
    return this.list.length === 1 ? (this.list[0] as Buffer) : Buffer.concat(this.list, this.length);
  }

  private indexOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** True when the run of backslashes ending just before `end` (not looking before `from`) is odd: the byte at `end` is escaped. */
function oddBackslashesBefore(chunk: Buffer, end: number, from: number): boolean {
  let n = 0;
  for (let k = end - 1; k >= from && chunk[k] === BACKSLASH; k--) n++;
  return (n & 1) === 1;
}

/** Byte spans of a body's structure, found by one pass over its bytes. */
interface Layout {
  /** `array`: the body is the job array; `object`: an object (its last `jobs` member may be the array). */
  shape: 'array' | 'object';
  /** Spans of the job array's elements (whitespace trimmed). */
  items: [number, number][];
  /** The job array's `[` and `]` offsets, when there is one. */
  array: [number, number] | undefined;
}

/**
 * Scans the structure of a JSON body without decoding or parsing it, a chunk
 * at a time (JSON's structural characters are ASCII, and UTF-8 never uses
 * ASCII bytes inside a multi-byte character). Returns undefined for anything it
 * does not understand; the caller then parses the whole body as before.
 */
class LayoutScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private offset = 0;
  private shape: 'array' | 'object' | undefined;
  private done = false;
  private failed = false;
  /** In an object body: the start of the current depth-1 string (a key or a value). */
  private stringStart = -1;
  private lastKey: [number, number] | undefined;
  private expectingKey = true;
  /** The depth-1 member being scanned is `jobs` and its value is an array: element boundaries are at depth 2. */
  private arrayDepth = 0;
  private arrayOpen = -1;
  private itemStart = -1;
  private itemEnd = -1;
  /** A comma was seen in the job array: an element must follow before its `]`. */
  private itemOwed = false;
  private items: [number, number][] = [];
  private array: [number, number] | undefined;
  private candidate: { items: [number, number][]; array: [number, number] } | undefined;

  constructor(private readonly keyIs: (span: [number, number]) => boolean) {}

  feed(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    let i = 0;
    if (this.inString && this.escaped) {
      // The previous chunk ended inside an escape: its first byte is the escaped character.
      this.escaped = false;
      i = 1;
    }
    for (; i < chunk.length; i++) {
      const at = this.offset + i;
      if (this.inString) {
        // Most of a batch is string contents: jump to the next quote natively, then see whether it is escaped.
        const q = chunk.indexOf(QUOTE, i);
        if (q === -1) {
          this.escaped = oddBackslashesBefore(chunk, chunk.length, i);
          break;
        }
        if (oddBackslashesBefore(chunk, q, i)) {
          i = q;
          continue;
        }
        i = q;
        this.inString = false;
        const end = this.offset + q + 1;
        if (this.depth === 1 && this.shape === 'object' && this.expectingKey) this.lastKey = [this.stringStart, end];
        this.noteEnd(end);
        continue;
      }
      const b = chunk[i] as number;
      if (isSpace(b)) continue;
      if (this.done) {
        this.failed = true; // content after the top-level value
        return;
      }
      if (this.shape === undefined) {
        if (b === OPEN_ARRAY) {
          this.shape = 'array';
          this.arrayDepth = 1;
          this.arrayOpen = at;
        } else if (b === OPEN_OBJECT) this.shape = 'object';
        else {
          this.failed = true;
          return;
        }
        this.depth = 1;
        continue;
      }
      switch (b) {
        case QUOTE:
          this.noteStart(at);
          this.inString = true;
          if (this.depth === 1) this.stringStart = at;
          break;
        case OPEN_ARRAY:
        case OPEN_OBJECT:
          this.noteStart(at);
          this.depth++;
          if (this.depth === 2 && this.shape === 'object' && b === OPEN_ARRAY && this.lastKey !== undefined && !this.expectingKey && this.keyIs(this.lastKey)) {
            this.arrayDepth = 2;
            this.arrayOpen = at;
            this.items = [];
          }
          break;
        case CLOSE_ARRAY:
        case CLOSE_OBJECT:
          if (this.depth === this.arrayDepth && b === CLOSE_ARRAY) {
            if (this.itemOwed && this.itemStart === -1) this.failed = true; // `[1,]`
            this.closeItem();
            this.array = [this.arrayOpen, at];
            if (this.shape === 'object') this.candidate = { items: this.items, array: this.array };
            this.arrayDepth = 0;
          }
          this.depth--;
          this.noteEnd(at + 1);
          if (this.depth === 0) this.done = true;
          if (this.depth < 0) this.failed = true;
          break;
        case COMMA:
          if (this.depth === this.arrayDepth) {
            if (this.itemStart === -1) this.failed = true; // `[,1]`, `[1,,2]`
            this.closeItem();
            this.itemOwed = true;
          }
          if (this.depth === 1 && this.shape === 'object') this.expectingKey = true;
          break;
        case COLON:
          if (this.depth === 1 && this.shape === 'object') {
            this.expectingKey = false;
            // A `jobs` member seen again (duplicate key): JSON.parse keeps the last one.
            if (this.lastKey !== undefined && this.keyIs(this.lastKey)) this.candidate = undefined;
          }
          break;
        default:
          this.noteStart(at);
          this.noteEnd(at + 1);
      }
    }
    this.offset += chunk.length;
  }

  /** The layout, or undefined when the body was not a complete array or object. */
  result(): Layout | undefined {
    if (this.failed || !this.done || this.inString || this.shape === undefined) return undefined;
    if (this.shape === 'array') return this.array === undefined ? undefined : { shape: 'array', items: this.items, array: this.array };
    return { shape: 'object', items: this.candidate?.items ?? [], array: this.candidate?.array };
  }

  /** The first byte of a value directly in the job array starts an element (unless one already started). */
  private noteStart(at: number): void {
    if (this.arrayDepth !== 0 && this.depth === this.arrayDepth && this.itemStart === -1) this.itemStart = at;
  }

  /** The last byte (exclusive end) of something inside the job array. */
  private noteEnd(end: number): void {
    if (this.arrayDepth !== 0 && this.depth >= this.arrayDepth && this.itemStart !== -1) this.itemEnd = end;
  }

  private closeItem(): void {
    if (this.itemStart !== -1) this.items.push([this.itemStart, this.itemEnd]);
    this.itemStart = -1;
    this.itemEnd = -1;
    this.itemOwed = false;
  }
}

/** `text` of bytes, a leading byte-order mark dropped (as the whole-body read does). */
function decode(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * The stream a batch body arrives on, after the content type is checked (415 otherwise): on
 * @hono/node-server, Node's request stream itself (no web-stream adapter per chunk), unless
 * the body limit already read a chunked body into a new Request. Null for no body.
 */
export function batchBodySource(c: Context): AsyncIterable<Uint8Array> | null {
  requireJsonType(c);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming !== undefined && header(c, 'transfer-encoding') === undefined && !incoming.readableEnded ? incoming : (c.req.raw.body as AsyncIterable<Uint8Array> | null);
}

/** The error a body stream that fails while being read answers with (the body limit's own 413 as it is). */
export function bodyReadError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(400, 'BODY_UNREADABLE', 'could not read the request body', { cause: err });
}

/**
 * Reads a batch body as it arrives and parses it a job at a time, giving the
 * event loop back between slices: a 16 MiB batch parsed in one `JSON.parse`
 * (after one 16 MiB decode and copy) held every other request of the API for
 * a hundred milliseconds and more. Each job's own bytes come back too, so the
 * job is published as sent instead of serialised again. Same answers as
 * readJsonBody: 415, 400 `EMPTY_BODY` / `MALFORMED_JSON` / `JSON_TOO_DEEP`;
 * any body whose structure the scan does not follow is parsed whole, as before.
 */
export async function readBatchBody(c: Context, options: ReadBatchOptions = {}): Promise<BatchBody> {
  return parseBatchBody(batchBodySource(c), options);
}

/** {@link readBatchBody} of a body's bytes from any source (the batch thread gets them from the request's thread). */
export async function parseBatchBody(source: AsyncIterable<Uint8Array> | null, options: ReadBatchOptions = {}): Promise<BatchBody> {
  const sliceMs = options.sliceMs ?? 4;
  const restMs = options.restMs ?? sliceMs;
  const chunks = new Chunks();
  const scanner = new LayoutScanner((span) => {
    const key = chunks.slice(span[0], span[1]);
    // A plain `"jobs"` is compared as bytes; an escaped spelling is decoded.
    if (key.length === 6 && key.toString('latin1') === '"jobs"') return true;
    if (key.indexOf(BACKSLASH) === -1) return false;
    try {
      return JSON.parse(key.toString('utf8')) === 'jobs';
    } catch {
      return false;
    }
  });
  if (source !== null) {
    let sliceEnd = performance.now() + sliceMs;
    try {
      for await (const piece of source) {
        const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        chunks.push(chunk);
        scanner.feed(chunk);
        // Chunks already buffered arrive without a pause: give other requests their turn now and then.
        if (performance.now() > sliceEnd) {
          await yieldToEventLoop();
          sliceEnd = performance.now() + sliceMs;
        }
      }
    } catch (err) {
      throw bodyReadError(err);
    }
  }
  const layout = scanner.result();
  const whole = (): BatchBody => ({ value: parseJsonText(decode(chunks.all())), itemBytes: undefined, bytes: chunks.length, mapped: false });
  if (layout === undefined || layout.array === undefined) return whole();
  const mapItem = layout.items.length > 0 && layout.items.length <= (options.maxItems ?? Infinity) ? options.mapItem : undefined;

  // Each job on its own; the array's level counts toward the depth limit.
  const level = layout.shape === 'array' ? 1 : 2;
  const values: unknown[] = new Array<unknown>(layout.items.length);
  const itemBytes: Buffer[] = new Array<Buffer>(layout.items.length);
  // Reported after every job parsed, as the whole-body parse reports a syntax error before depth.
  let tooDeep = false;
  let sliceEnd = performance.now() + sliceMs;
  for (let i = 0; i < layout.items.length; i++) {
    const [start, end] = layout.items[i] as [number, number];
    const bytes = chunks.slice(start, end);
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return whole(); // the whole-body parse names the error and its position
    }
    if (!tooDeep && jsonDepthExceeds(text, value, MAX_JSON_DEPTH - level)) tooDeep = true;
    values[i] = mapItem === undefined ? value : mapItem(value, text, i);
    itemBytes[i] = bytes;
    if (performance.now() > sliceEnd) {
      await stepAside(restMs);
      sliceEnd = performance.now() + sliceMs;
    }
  }
  const deep = (): never => {
    throw new ApiError(400, 'JSON_TOO_DEEP', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  };
  const mapped = mapItem !== undefined;
  if (layout.shape === 'array') return tooDeep ? deep() : { value: values, itemBytes, bytes: chunks.length, mapped };

  // The object without its job array's contents, parsed as usual; then the jobs go into its (empty) array.
  const [open, close] = layout.array;
  const skeletonBytes = Buffer.concat([chunks.slice(0, open + 1), chunks.slice(close, chunks.length)]);
  let skeleton: unknown;
  try {
    skeleton = parseJsonText(decode(skeletonBytes));
  } catch {
    return whole();
  }
  const jobs = (skeleton as { jobs?: unknown }).jobs;
  if (!Array.isArray(jobs) || jobs.length !== 0) return whole();
  if (tooDeep) deep();
  for (const v of values) jobs.push(v);
  return { value: skeleton, itemBytes, bytes: chunks.length, mapped };
}
