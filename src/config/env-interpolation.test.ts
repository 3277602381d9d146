import { describe, expect, it } from 'vitest';
import { interpolateEnv } from './env-interpolation.ts';

describe('interpolateEnv', () => {
  it('replaces set variables and applies defaults', () => {
    expect(interpolateEnv('amqp://${U}:${P}@h', { U: 'u', P: 'p' })).toEqual({ value: 'amqp://u:p@h', missing: [] });
    expect(interpolateEnv('${HOST:-127.0.0.1}:5672', {})).toEqual({ value: '127.0.0.1:5672', missing: [] });
    expect(interpolateEnv('${EMPTY:-fallback}', { EMPTY: '' })).toEqual({ value: 'fallback', missing: [] });
    expect(interpolateEnv('${D:-}', {})).toEqual({ value: '', missing: [] });
  });

  it('reports variables without a default that are not set', () => {
    expect(interpolateEnv('key=${OPENAI_API_KEY}', {})).toEqual({ value: 'key=', missing: ['OPENAI_API_KEY'] });
  });

  it('keeps an escaped $${ literal', () => {
    expect(interpolateEnv('cost: $${PRICE}', { PRICE: '1' })).toEqual({ value: 'cost: ${PRICE}', missing: [] });
  });
});
