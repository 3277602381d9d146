import { describe, expect, it } from 'vitest';
import { MarkerSyntaxError, parseMarkers, stripMarkers } from './markers.ts';

describe('parseMarkers', () => {
  it('reads status failures with their options', () => {
    expect(parseMarkers('hi [[fail:500]]')).toEqual({ fault: { kind: 'status', status: 500 } });
    expect(parseMarkers('[[fail:429:retry-after=2]]')).toEqual({ fault: { kind: 'status', status: 429, retryAfterMs: 2000 } });
    expect(parseMarkers('[[fail:429:retry-after=0.5]]')).toEqual({ fault: { kind: 'status', status: 429, retryAfterMs: 500 } });
    expect(parseMarkers('[[fail:429:retry-after-ms=250]]')).toEqual({ fault: { kind: 'status', status: 429, retryAfterMs: 250 } });
    expect(parseMarkers('[[fail:429:retry-after=none]]')).toEqual({ fault: { kind: 'status', status: 429, retryAfterMs: null } });
    expect(parseMarkers('[[fail:429:quota]]')).toEqual({ fault: { kind: 'status', status: 429, variant: 'quota' } });
    expect(parseMarkers('[[fail:400:context-length]]')).toEqual({ fault: { kind: 'status', status: 400, variant: 'context-length' } });
  });

  it('reads hang, content filter, delay and fail-first', () => {
    expect(parseMarkers('[[hang]]')).toEqual({ fault: { kind: 'hang' } });
    expect(parseMarkers('[[content-filter]]')).toEqual({ fault: { kind: 'content-filter' } });
    expect(parseMarkers('[[delay:1500]] and [[fail:503]]')).toEqual({ delayMs: 1500, fault: { kind: 'status', status: 503 } });
    expect(parseMarkers('[[fail-first:3]]')).toEqual({ failFirst: { count: 3, fault: { kind: 'status', status: 500 } } });
    expect(parseMarkers('[[fail-first:2:429:retry-after=1]]')).toEqual({
      failFirst: { count: 2, fault: { kind: 'status', status: 429, retryAfterMs: 1000 } },
    });
  });

  it('ignores text without markers and unknown double-bracket words', () => {
    expect(parseMarkers('plain prompt')).toEqual({});
    expect(parseMarkers('see [[Main Page]] and [[note:x]]')).toEqual({});
  });

  it('rejects a known marker with bad arguments, naming it', () => {
    expect(() => parseMarkers('[[fail:abc]]')).toThrow(new MarkerSyntaxError("[[fail:abc]]: expected a whole number, got 'abc'"));
    expect(() => parseMarkers('[[fail:200]]')).toThrow('[[fail:200]]: status must be 400..599');
    expect(() => parseMarkers('[[fail:429:later]]')).toThrow(/unknown option 'later'/);
    expect(() => parseMarkers('[[delay]]')).toThrow(MarkerSyntaxError);
  });
});

describe('stripMarkers', () => {
  it('removes known markers only', () => {
    expect(stripMarkers('Summarise this [[delay:10]][[fail-first:1]] please')).toBe('Summarise this  please');
    expect(stripMarkers('keep [[Main Page]]')).toBe('keep [[Main Page]]');
  });
});
