import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { ENV_SETTINGS } from './env-settings.ts';
import { defaultConfig, loadConfig, loadSettings } from './load-config.ts';

describe('loadConfig', () => {
  it('takes the declared default for every unset or empty variable', () => {
    const config = defaultConfig();
    expect(config).toMatchObject({ topologyFile: 'topology.yaml', logLevel: 'info', apiPort: 8080, apiHost: '127.0.0.1', auth: 'keys', apiPublicDocs: false, dlqMaxRequeues: 5 });
    expect(config.metricsPort).toBeUndefined();
    expect(loadConfig({ WARREN_API_PORT: '', WARREN_DLQ_MAX_REQUEUES: '  ' })).toMatchObject({ apiPort: 8080, dlqMaxRequeues: 5 });
    expect(Object.keys(config).sort()).toEqual(Object.keys(ENV_SETTINGS).sort());
  });

  it('parses each type: ports, whole numbers, booleans, words in any case, URLs', () => {
    const config = loadConfig({
      WARREN_API_PORT: '0',
      WARREN_METRICS_PORT: ' 9464 ',
      WARREN_DLQ_MAX_REQUEUES: '12',
      WARREN_API_PUBLIC_DOCS: 'TRUE',
      WARREN_AUTH: 'None',
      WARREN_LOG_LEVEL: 'debug',
      WARREN_API_URL: 'http://api.internal:8080/',
      WARREN_EVENT_UNSIGNED_BEFORE: '42',
    });
    expect(config).toMatchObject({ apiPort: 0, metricsPort: 9464, dlqMaxRequeues: 12, apiPublicDocs: true, auth: 'none', logLevel: 'debug', apiUrl: 'http://api.internal:8080/', eventUnsignedBefore: 42 });
    expect(loadConfig({ WARREN_API_PUBLIC_DOCS: 'no' }).apiPublicDocs).toBe(false);
  });

  it('refuses an invalid value with a message that names the variable and the value', () => {
    expect(() => loadConfig({ WARREN_API_PORT: '80a' })).toThrow("WARREN_API_PORT must be a port number 0-65535, got '80a'");
    expect(() => loadConfig({ WARREN_API_PORT: '70000' })).toThrow("WARREN_API_PORT must be a port number 0-65535, got '70000'");
    expect(() => loadConfig({ WARREN_DLQ_MAX_REQUEUES: '-1' })).toThrow("WARREN_DLQ_MAX_REQUEUES must be a whole number (0 or more), got '-1'");
    expect(() => loadConfig({ WARREN_API_PUBLIC_DOCS: 'sure' })).toThrow("WARREN_API_PUBLIC_DOCS must be true or false, got 'sure'");
    expect(() => loadConfig({ WARREN_LOG_LEVEL: 'loud' })).toThrow("WARREN_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'");
    expect(() => loadConfig({ WARREN_API_URL: 'not a url' })).toThrow("WARREN_API_URL must be a URL such as http://127.0.0.1:8080, got 'not a url'");
  });

  it('reports every invalid variable at once, as a ConfigError with one issue each', () => {
    let caught: unknown;
    try {
      loadConfig({ WARREN_API_PORT: 'x', WARREN_METRICS_PORT: 'y', WARREN_API_HOST: 'fine' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.issues.map((i) => i.variable)).toEqual(['WARREN_API_PORT', 'WARREN_METRICS_PORT']);
    expect(err.message).toMatch(/^invalid configuration \(2 problems\):\n {2}- WARREN_API_PORT .+\n {2}- WARREN_METRICS_PORT /);
  });

  it('never echoes the value of a secret it refuses', () => {
    const settings = {
      token: { env: 'X_TOKEN', type: 'secret', schema: z.string().min(16, 'must be 16 characters or more'), default: undefined, usedBy: 'test', doc: 'a secret', secret: true },
    };
    expect(() => loadSettings(settings, { X_TOKEN: 'hunter2' })).toThrow('X_TOKEN must be 16 characters or more (value not shown: it is a secret)');
    expect(() => loadSettings(settings, { X_TOKEN: 'hunter2' })).not.toThrow(/hunter2/);
    expect(loadSettings(settings, { X_TOKEN: 'hunter2-0123456789' })).toEqual({ token: 'hunter2-0123456789' });
    const declared = Object.values(ENV_SETTINGS).filter((s) => 'secret' in s && s.secret === true).map((s) => s.env);
    expect(declared).toEqual(expect.arrayContaining(['WARREN_API_KEYS', 'WARREN_API_KEY', 'WARREN_EVENT_KEY', 'WARREN_EVENT_KEY_PREVIOUS', 'OPENAI_API_KEY']));
  });
});
