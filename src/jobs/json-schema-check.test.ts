import { describe, expect, it } from 'vitest';
import { jsonSchemaProblems } from './json-schema-check.ts';

describe('JSON Schema check', () => {
  it('accepts the schemas providers use', () => {
    expect(jsonSchemaProblems({ type: 'object', properties: { a: { type: ['string', 'null'] }, b: { type: 'array', items: { $ref: '#/$defs/x' } } }, required: ['a'], additionalProperties: false, $defs: { x: { enum: [1, 2] } } })).toEqual([]);
    expect(jsonSchemaProblems(true)).toEqual([]);
    expect(jsonSchemaProblems({ anyOf: [{ type: 'string', pattern: '^a+$' }, { not: { type: 'null' } }], if: { minLength: 1 }, then: {} })).toEqual([]);
  });

  it('names where each problem is', () => {
    const problems = jsonSchemaProblems({ type: 'object', properties: { a: { type: 'strng' }, b: 7 }, required: 'a', anyOf: [], pattern: '(' });
    expect(problems.map((p) => `${p.path.join('.')}: ${p.message}`).sort()).toEqual([
      'anyOf: anyOf must be a non-empty list of schemas',
      'pattern: pattern is not a valid regular expression',
      'properties.a.type: type must be one of object, array, string, number, integer, boolean, null (or a list of them)',
      'properties.b: a schema must be an object or a boolean',
      'required: required must be a list of distinct property names',
    ]);
  });
});
