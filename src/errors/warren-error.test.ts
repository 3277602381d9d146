import { describe, expect, it, vi } from 'vitest';
import { PermanentJobError, TransientJobError } from './job-errors.ts';
import { WarrenError } from './warren-error.ts';

describe('warren errors across copies of the module', () => {
  it('instanceof holds for an error built by another copy of the classes, by class name, not for other errors', async () => {
    vi.resetModules();
    // After resetModules, a fresh import is a second copy of the module (as a handler's own `warren` would be).
    const other = (await import('./job-errors.ts')) as typeof import('./job-errors.ts');
    expect(other.PermanentJobError).not.toBe(PermanentJobError); // really another copy
    const theirs = new other.PermanentJobError('from the handler\'s copy');
    expect(theirs instanceof PermanentJobError).toBe(true);
    expect(theirs instanceof WarrenError).toBe(true);
    expect(theirs instanceof TransientJobError).toBe(false);
    expect(new other.TransientJobError('t') instanceof TransientJobError).toBe(true);
    // A look-alike that is not a warren error stays out, whatever its name.
    class PermanentJobErrorLookalike extends Error {}
    Object.defineProperty(PermanentJobErrorLookalike, 'name', { value: 'PermanentJobError' });
    expect(new PermanentJobErrorLookalike('x') instanceof PermanentJobError).toBe(false);
    expect((null as unknown) instanceof WarrenError).toBe(false);
  });
});
