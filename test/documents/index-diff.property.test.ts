// The path-index diff of an edit: applied to the entries of the old body, it gives exactly the
// entries of the new one, whichever fields changed, appeared or went.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { diffIndexEntries, sameJson } from '../../src/documents/index-diff.ts';
import { encodeIndexValue, forEachIndexEntry, forEachIndexValue, type IndexValue } from '../../src/query/index.ts';

type Body = Record<string, unknown>;

function entrySet(body: Body | undefined): Set<string> {
  const out = new Set<string>();
  if (body) forEachIndexEntry(body, (p, v) => out.add(p + '\u0000' + v));
  return out;
}

/** Bodies that share fields often, so unchanged, changed, added and removed fields all occur. */
const field = fc.constantFrom('a', 'b', 'c', '__proto__', '10', '_attachments');
const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, -0, 1, 'x', [1, 2], { k: [1, 1] }));
const body = fc.dictionary(field, value, { maxKeys: 5 });

/**
 * Applies the diff from `before` to `after` to the old body's entries: each delete must remove an
 * entry there, each put add a missing one, and the result must be exactly the new body's entries.
 */
function diffTurnsInto(before: Body | undefined, after: Body | undefined): void {
  const got = entrySet(before);
  const puts: string[] = [];
  const dels: string[] = [];
  // The writer's own walk (unencoded values), its entries compared in their stored form.
  const entry = (p: string, v: IndexValue) => p + '\u0000' + encodeIndexValue(v);
  diffIndexEntries(forEachIndexValue, before, after, (p, v) => puts.push(entry(p, v)), (p, v) => dels.push(entry(p, v)));
  for (const d of dels) assert.ok(got.delete(d), `deleted an entry the old body lacks: ${d}`);
  for (const p of puts) {
    assert.ok(!got.has(p), `put an entry already there: ${p}`);
    got.add(p);
  }
  assert.deepEqual([...got].sort(), [...entrySet(after)].sort());
}

test('the diff turns the old entries into the new ones', () => {
  fc.assert(
    fc.property(fc.option(body, { nil: undefined }), fc.option(body, { nil: undefined }), (before, after) => {
      diffTurnsInto(before, after);
    }),
    { numRuns: 3000 },
  );
});

test('the diff is the same past the few entries held flat: long arrays, the empty field name', () => {
  // Arrays longer than the flat list (32 entries) take the map; short ones and the field '' the list.
  const item = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom('x', 'y', null, true));
  const big = fc.dictionary(fc.constantFrom('', 'a', 'b'), fc.oneof(fc.array(item, { maxLength: 80 }), item), { maxKeys: 3 });
  fc.assert(
    fc.property(big, big, (before, after) => {
      diffTurnsInto(before, after);
    }),
    { numRuns: 2000 },
  );
});

test('sameJson: deep equality of JSON values, key order aside, -0 apart', () => {
  assert.ok(sameJson({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] }));
  assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!sameJson({ a: 1, c: undefined }, { a: 1, b: 2 }));
  assert.ok(!sameJson([1], { 0: 1 }));
  assert.ok(!sameJson(0, -0));
  assert.ok(!sameJson(null, {}));
  fc.assert(fc.property(fc.jsonValue(), (v) => sameJson(v, structuredClone(v))));
});
