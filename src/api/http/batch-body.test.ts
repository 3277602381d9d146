import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.ts';
import { readBatchBody } from './batch-body.ts';
import { parseJsonText } from './json-body.ts';

/** A request context whose body arrives in the given pieces. */
function contextOf(bytes: Buffer, cuts: number[], type = 'application/json'): Context {
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length];
  const pieces = points.slice(1).map((end, i) => new Uint8Array(bytes.subarray(points[i] as number, end)));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of pieces) controller.enqueue(p);
      controller.close();
    },
  });
  return { env: undefined, req: { header: (name: string) => (name === 'content-type' ? type : undefined), raw: { body } } } as unknown as Context;
}

/** What the whole-body read answers: the value, or the error's code and message. */
function expected(bytes: Buffer): { value: unknown } | { code: string; message: string } {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { value: parseJsonText(text) };
  } catch (err) {
    const e = err as ApiError;
    return { code: e.code, message: e.message };
  }
}

/** The body read a job at a time; job bytes as text, to compare. */
async function read(bytes: Buffer, cuts: number[], sliceMs = 4): Promise<{ value: unknown; itemTexts: string[] | undefined } | { code: string; message: string }> {
  try {
    const { bytes: read, value, itemBytes } = await readBatchBody(contextOf(bytes, cuts), { sliceMs });
    expect(read).toBe(bytes.length);
    return { value, itemTexts: itemBytes?.map((b) => b.toString('utf8')) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { code: err.code, message: err.message };
  }
}

// Deterministic pseudo-random numbers, so a failure can be replayed.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.35) {
    const k = Math.floor(rnd() * 7);
    return [0, -1.5e3, 'plain', 'é"\\\\\u0000 [{,:}]', true, null, 'x'.repeat(Math.floor(rnd() * 40))][k];
  }
  if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 4); i > 0; i--) o[['a', 'jobs', 'mode', '"q"', 'é'][Math.floor(rnd() * 5)] as string] = randomValue(rnd, depth + 1);
  return o;
}

/** A body made from `value` with odd whitespace, then maybe damaged. */
function bodyOf(rnd: () => number, value: unknown): Buffer {
  let text = JSON.stringify(value, null, rnd() < 0.5 ? undefined : ' \n\t'.slice(0, 1 + Math.floor(rnd() * 3)));
  if (rnd() < 0.2) text = ` \r\n${text}\n `;
  if (rnd() < 0.25 && text.length > 0) {
    const at = Math.floor(rnd() * text.length);
    const damage = [',', ']', '}', '"', '', 'x', ',,', '\\'][Math.floor(rnd() * 8)] as string;
    text = text.slice(0, at) + damage + text.slice(at + (rnd() < 0.5 ? 1 : 0));
  }
  return Buffer.from(text);
}

describe('batch body read a job at a time', () => {
  // itemTexts below: each job's bytes, decoded.
  it('returns what JSON.parse of the whole body returns, and each job as sent', async () => {
    const text = '[ {"model":"m","messages":[{"role":"user","content":"h\\u00e9 ]}, [{"}]} ,\n\t{"model":"n"} , 3, "s", [1,[2]] ]';
    // Slices of 0 ms: it steps aside after every job, and still gets them all.
    const out = await read(Buffer.from(text), [7, 30, 31, 60], 0);
    expect(out).toEqual({ value: JSON.parse(text), itemTexts: ['{"model":"m","messages":[{"role":"user","content":"h\\u00e9 ]}, [{"}]}', '{"model":"n"}', '3', '"s"', '[1,[2]]'] });
    const wrapped = `{"mode":"best-effort" , "jobs" : ${text}, "x": {"jobs": [9]}}`;
    expect(await read(Buffer.from(wrapped), [3, 40])).toEqual({ value: JSON.parse(wrapped), itemTexts: (out as { itemTexts: string[] }).itemTexts });
  });

  it('finds the same jobs wherever the chunks are cut, escapes and quotes included', async () => {
    const text = '{"mode":"m","jobs":["a\\\\",{"q":"\\"]\\\\\\"}"},"\\\\\\\\x",[]],"z":"\\""}';
    const bytes = Buffer.from(text);
    const want = JSON.parse(text) as { jobs: unknown[] };
    for (let a = 0; a <= bytes.length; a++) {
      for (const b of [a + 1, a + 2, a + 7]) {
        const got = await read(bytes, [a, b]);
        expect(got, `cuts ${a}, ${b}`).toMatchObject({ value: want });
        expect((got as { itemTexts: string[] }).itemTexts.map((t) => JSON.parse(t))).toEqual(want.jobs);
      }
    }
  });

  it('keeps the last of duplicate jobs members, and reads an escaped "jobs" key', async () => {
    const dup = '{"jobs":[1,2],"mode":"m","jobs":[3]}';
    expect(await read(Buffer.from(dup), [])).toEqual({ value: { jobs: [3], mode: 'm' }, itemTexts: ['3'] });
    const escaped = '{"jo\\u0062s":[{"a":1}]}';
    expect(await read(Buffer.from(escaped), [5])).toEqual({ value: { jobs: [{ a: 1 }] }, itemTexts: ['{"a":1}'] });
    const notArray = '{"jobs":[1],"jobs":5}';
    expect(await read(Buffer.from(notArray), [])).toEqual({ value: { jobs: 5 }, itemTexts: undefined });
  });

  it('applies mapItem to each job as it is parsed, in place of the job, and never to a body it parses whole or to too many jobs', async () => {
    const seen: [unknown, string, number][] = [];
    const mapItem = (value: unknown, text: string, index: number) => {
      seen.push([value, text, index]);
      return { mapped: index };
    };
    const object = await readBatchBody(contextOf(Buffer.from('{"mode":"m","jobs":[{"a":1}, [2] ]}'), [9, 20]), { mapItem });
    expect(object).toMatchObject({ mapped: true, value: { mode: 'm', jobs: [{ mapped: 0 }, { mapped: 1 }] } });
    expect(seen).toEqual([[{ a: 1 }, '{"a":1}', 0], [[2], '[2]', 1]]);
    const array = await readBatchBody(contextOf(Buffer.from('[1,2,3]'), []), { mapItem, maxItems: 3 });
    expect(array).toMatchObject({ mapped: true, value: [{ mapped: 0 }, { mapped: 1 }, { mapped: 2 }] });
    seen.length = 0;
    // Over maxItems, and a body the scan does not follow (a job array that is not the last `jobs`): parsed as usual.
    expect(await readBatchBody(contextOf(Buffer.from('[1,2,3]'), []), { mapItem, maxItems: 2 })).toMatchObject({ mapped: false, value: [1, 2, 3] });
    expect(await readBatchBody(contextOf(Buffer.from('{"jobs":[1],"jobs":5}'), []), { mapItem })).toMatchObject({ mapped: false, value: { jobs: 5 } });
    expect(await readBatchBody(contextOf(Buffer.from('[]'), []), { mapItem })).toMatchObject({ mapped: false, value: [] });
    expect(seen).toEqual([]);
    // A job array that turns out malformed after mapped jobs: the whole-body read's error, as without mapItem.
    await expect(readBatchBody(contextOf(Buffer.from('[1,2,}'), []), { mapItem })).rejects.toMatchObject({ code: 'MALFORMED_JSON' });
  });

  it('answers malformed, empty, too deep and non-JSON bodies exactly as the whole-body read', async () => {
    for (const text of ['', '  ', '[1,]', '[,1]', '[1,,2]', '[1 2]', '[1]]', '[1] x', '{"jobs":[1,]}', '{"jobs":[1] "a":2}', '[{"a":]', '["unterminated]', '\ufeff[1,2]', '[' + '['.repeat(70) + ']'.repeat(70) + ']', `{"jobs":[${'['.repeat(63)}${']'.repeat(63)}]}`, `{"jobs":[${'['.repeat(62)}${']'.repeat(62)}]}`]) {
      const bytes = Buffer.from(text);
      const got = await read(bytes, [1, 3]);
      const want = expected(bytes);
      if ('value' in want) expect((got as { value: unknown }).value, JSON.stringify(text.slice(0, 40))).toEqual(want.value);
      else expect(got, JSON.stringify(text.slice(0, 40))).toEqual(want);
    }
    await expect(readBatchBody(contextOf(Buffer.from('[]'), [], 'text/plain'))).rejects.toMatchObject({ status: 415 });
  });

  it('agrees with JSON.parse on 3,000 generated bodies cut into random chunks (seeded)', async () => {
    const rnd = random(1234);
    const seen = { split: 0, whole: 0, error: 0 };
    for (let n = 0; n < 3000; n++) {
      const top = rnd() < 0.5 ? Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, 1)) : { mode: 'x', jobs: Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, 1)), ...(rnd() < 0.3 ? { jobs2: [1] } : {}) };
      const bytes = bodyOf(rnd, rnd() < 0.1 ? randomValue(rnd, 0) : top);
      const cuts = Array.from({ length: Math.floor(rnd() * 4) }, () => Math.floor(rnd() * bytes.length));
      const got = await read(bytes, cuts);
      const want = expected(bytes);
      const label = `#${n} ${bytes.toString('utf8').slice(0, 120)}`;
      if ('code' in want) {
        seen.error++;
        expect(got, label).toEqual(want);
      } else {
        expect('value' in got && got.value, label).toEqual(want.value);
        const texts = (got as { itemTexts: string[] | undefined }).itemTexts;
        seen[texts === undefined ? 'whole' : 'split']++;
        if (texts !== undefined) {
          const jobs = Array.isArray(want.value) ? want.value : (want.value as { jobs: unknown[] }).jobs;
          expect(texts.map((t) => JSON.parse(t)), label).toEqual(jobs);
        }
      }
    }
    // Every path was taken many times: split a job at a time, parsed whole, and refused.
    expect(seen.split).toBeGreaterThan(1500);
    expect(seen.whole).toBeGreaterThan(50);
    expect(seen.error).toBeGreaterThan(300);
  });
});
