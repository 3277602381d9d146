import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isPrettyLogFormat } from './logger.ts';

/** A stream that keeps what is written; `isTTY` says whether it poses as a terminal. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text(): string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; text(): string };
  w.isTTY = isTTY;
  w.text = () => chunks.join('');
  return w;
}

describe('createLogger formats', () => {
  it('writes one JSON object per line when the output is not a terminal (auto)', () => {
    const out = sink(false);
    createLogger({ name: 'warren', destination: out }).child({ component: 'worker' }).info({ consumer: 'c1' }, 'consuming');
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'consuming', component: 'worker', consumer: 'c1', level: 30 });
  });

  it('writes coloured pretty lines labelled with the component on a terminal (auto)', () => {
    const out = sink(true);
    createLogger({ name: 'warren', destination: out }).child({ component: 'api' }).info({ url: 'http://x' }, 'API listening');
    const text = out.text();
    expect(text).toContain('[api] API listening');
    expect(text).toContain('\u001b['); // ANSI colour
    expect(() => JSON.parse(text)).toThrow();
  });

  it('WARREN_LOG_FORMAT forces either way: pretty without a terminal, json on one', () => {
    const piped = sink(false);
    createLogger({ destination: piped, format: 'pretty' }).child({ component: 'worker' }).warn('paused');
    expect(piped.text()).toMatch(/WARN.*\[worker\] paused/);
    expect(piped.text()).not.toContain('\u001b['); // no colour when not a terminal
    const tty = sink(true);
    createLogger({ destination: tty, format: 'json' }).info('hello');
    expect(JSON.parse(tty.text())).toMatchObject({ msg: 'hello' });
    expect(isPrettyLogFormat('auto', { isTTY: false })).toBe(false);
  });

  it('redacts secrets in pretty lines too', () => {
    const out = sink(false);
    createLogger({ destination: out, format: 'pretty' }).info({ apiKey: 'sk-secret' }, 'provider');
    expect(out.text()).not.toContain('sk-secret');
    expect(out.text()).toContain('[redacted]');
  });
});
