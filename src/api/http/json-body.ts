import type { Context } from 'hono';
import { ApiError } from '../api-error.ts';
import { header } from './header.ts';

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/** Deepest nesting accepted: far beyond any real job, far below what overflows JSON.stringify's stack. */
export const MAX_JSON_DEPTH = 64;

/** True when `text` has more than `limit` opening brackets; native indexOf makes this nearly free for ordinary bodies. */
function bracketsExceed(text: string, limit: number): boolean {
  let n = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1; i = text.indexOf(bracket, i + 1)) if (++n > limit) return true;
  }
  return false;
}

/**
 * Nesting depth of a parsed JSON document (`text` is what it was parsed from) above `limit`?
 * Bodies with few brackets skip the walk. The walk visits containers only, with
 * its own stack: a 16 MiB batch of 1000 jobs is a few thousand nodes, where a
 * character scan of the text took ~200 ms of the event loop on a busy machine.
 */
export function jsonDepthExceeds(text: string, value: unknown, limit: number): boolean {
  if (!bracketsExceed(text, limit)) return false;
  if (typeof value !== 'object' || value === null) return false;
  // Depth-first with one frame per level: the stack never holds more than `limit` frames.
  const children: unknown[][] = [childrenOf(value)];
  const next: number[] = [0];
  while (children.length > 0) {
    const top = children.length - 1;
    const list = children[top] as unknown[];
    const i = (next[top] as number) + 1;
    next[top] = i;
    if (i > list.length) {
      children.pop();
      next.pop();
      continue;
    }
    const child = list[i - 1];
    if (typeof child === 'object' && child !== null) {
      // The value is at depth 1, so a container found on level n of the stack is at depth n + 1.
      if (children.length + 1 > limit) return true;
      children.push(childrenOf(child));
      next.push(0);
    }
  }
  return false;
}

function childrenOf(node: object): unknown[] {
  return Array.isArray(node) ? node : Object.values(node);
}

/** A parsed JSON body with the text it was parsed from. */
export interface JsonBody {
  value: unknown;
  /**
   * The body as decoded text (UTF-8, a leading byte-order mark dropped,
   * invalid sequences replaced): `JSON.parse(text)` is `value`, so publishing
   * its UTF-8 encoding spares re-serialising a payload validation left
   * unchanged, and equals the request's bytes whenever they were clean.
   */
  text: string;
}

/** 415 unless the request says its body is JSON. */
export function requireJsonType(c: Context): void {
  const type = header(c, 'content-type');
  if (type === undefined || !JSON_TYPE.test(type)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `expected Content-Type: application/json, got ${type === undefined ? 'none' : `'${type.slice(0, 100)}'`}`);
  }
}

/** Parses a JSON body's text: 400 `EMPTY_BODY`, `MALFORMED_JSON` or `JSON_TOO_DEEP` for what can't be used. */
export function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Only a failed parse pays for the emptiness check (trim copies the body).
    if (text.trim() === '') throw new ApiError(400, 'EMPTY_BODY', 'the request body is empty; send a JSON document');
    throw new ApiError(400, 'MALFORMED_JSON', `the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  // Checked after parsing (malformed JSON gets its own message), before anything recurses into the value.
  if (jsonDepthExceeds(text, value, MAX_JSON_DEPTH)) throw new ApiError(400, 'JSON_TOO_DEEP', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

/**
 * Reads a JSON request body: 415 unless the content type is JSON, 400 when it
 * is empty or malformed. The size limit (413) is enforced before this by the
 * body-limit middleware, so a huge body is never buffered.
 */
export async function readJsonBody(c: Context): Promise<unknown> {
  return (await readJsonBodyWithText(c)).value;
}

/** {@link readJsonBody}, also returning the text it parsed. */
export async function readJsonBodyWithText(c: Context): Promise<JsonBody> {
  requireJsonType(c);
  let text: string;
  try {
    text = await c.req.text();
  } catch (err) {
    // The client went away or sent a broken chunked body.
    throw new ApiError(400, 'BODY_UNREADABLE', 'could not read the request body', { cause: err });
  }
  return { value: parseJsonText(text), text };
}
