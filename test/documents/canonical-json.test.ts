// Canonical JSON (the input of revision ids) against a plain reference implementation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../../src/documents/canonical-json.ts';

function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return '[' + value.map(reference).join(',') + ']';
  const obj = value as Record<string, unknown>;
  return '{' + Object.keys(obj).sort().map((k) => JSON.stringify(k) + ':' + reference(obj[k])).join(',') + '}';
}

test('canonical JSON sorts keys at every depth, whatever the input order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: '1' } }), '{"a":{"c":"1","d":[1,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson(JSON.parse('{"x":{"__proto__":1},"a":2}')), '{"a":2,"x":{"__proto__":1}}');
  // Integer-like keys: V8 would list them first, in numeric order.
  assert.equal(canonicalJson({ b: { 10: 'x', 2: 'y', a: 1 }, a: [{ 1: 1, '01': 0 }] }), '{"a":[{"01":0,"1":1}],"b":{"10":"x","2":"y","a":1}}');
  // Sorted objects whose children need sorting, and __proto__ at any level.
  assert.equal(canonicalJson(JSON.parse('{"a":{"z":1,"y":2},"b":{"__proto__":{"d":1,"c":2}},"c":[{"q":1,"p":2}]}')), '{"a":{"y":2,"z":1},"b":{"__proto__":{"c":2,"d":1}},"c":[{"p":2,"q":1}]}');
  fc.assert(fc.property(fc.dictionary(fc.oneof(fc.string(), fc.nat().map(String), fc.constant('__proto__')), fc.jsonValue()), (v) => canonicalJson(v) === reference(v)), { numRuns: 2000 });
  fc.assert(fc.property(fc.jsonValue(), (v) => canonicalJson(v) === reference(v)), { numRuns: 3000 });
});
