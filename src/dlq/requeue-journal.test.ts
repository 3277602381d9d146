import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageProperties } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileJournal, dedupeKey } from './requeue-journal.ts';

/** Message properties as they come off the wire: headers are whatever the publisher put there. */
const msg = (content: Buffer, properties: Record<string, unknown>) => ({ content, properties: properties as unknown as MessageProperties });

describe('requeue journal', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const file = () => {
    const d = mkdtempSync(join(tmpdir(), 'warren-journal-'));
    dirs.push(d);
    return join(d, 'q.journal');
  };

  it('dedupe keys are the ones earlier versions wrote into journals (an interrupted run of an older warren still dedupes)', () => {
    // Digests computed by the version that hashed each part with its own update() call.
    expect(dedupeKey(msg(Buffer.from('{"a":1}'), { messageId: 'job-1', headers: { 'x-death': [{ queue: 'work', reason: 'rejected', count: 1, time: { '!': 'timestamp', value: 1700000000 } }] } }))).toBe(
      '83956a10a61ce954a83a81ba59ff0c4aa7e11a70',
    );
    expect(dedupeKey(msg(Buffer.from([0, 255, 1]), { messageId: undefined, headers: { 'x-warren-requeued': 3, 'x-warren-failed-at': '2024-01-01T00:00:00Z' } }))).toBe(
      '9c9714e62c7d89f36a1956f2634359d2e347e8e4',
    );
    expect(dedupeKey(msg(Buffer.from('é'), { messageId: 'ü', headers: undefined }))).toBe('84a7ea5251887ff1817490967b59f652542d705b');
    // Not redelivery-sensitive: the broker's delivery count and the redelivered flag don't change the key.
    const a = msg(Buffer.from('x'), { messageId: 'm', headers: { 'x-delivery-count': 1 } });
    const b = msg(Buffer.from('x'), { messageId: 'm', headers: { 'x-delivery-count': 7 } });
    expect(dedupeKey(a)).toBe(dedupeKey(b));
  });

  it('a batch is in the file before it returns, and the next run reads every entry of it back', () => {
    const f = file();
    const j = createFileJournal(f);
    j.published(['k1', 'k2', 'k3']);
    j.confirmed(['k1', 'k2']);
    expect(readFileSync(f, 'utf8')).toBe('p k1\np k2\np k3\nc k1\nc k2\n');
    const next = createFileJournal(f);
    expect([next.leftover('k1'), next.leftover('k2'), next.leftover('k3'), next.leftover('k4')]).toEqual(['confirmed', 'confirmed', 'published', undefined]);
  });

  it('settled keys are forgotten; an empty journal removes its file', () => {
    const f = file();
    const j = createFileJournal(f);
    j.published(['k1', 'k2']);
    j.confirmed(['k1', 'k2']);
    j.settle(['k1']);
    expect(readFileSync(f, 'utf8')).toBe('c k2\n');
    j.settle(['k2']);
    expect(() => readFileSync(f, 'utf8')).toThrow(/ENOENT/);
  });
});
