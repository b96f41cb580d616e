import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { encodeIndexValue as enc, INDEX_VALUE_SEPARATOR as S } from '../../src/query/index-keys.ts';
import { planFind } from '../../src/query/plan.ts';
import { scanBounds } from '../../src/query/scan-bounds.ts';
import { normalizeSelector } from '../../src/query/selector.ts';
import { parseSort } from '../../src/query/sort.ts';

const plan = (sel: unknown, sort?: unknown) => planFind(normalizeSelector(sel), parseSort(sort));

describe('planFind', () => {
  test('no usable clause: full scan', () => {
    for (const sel of [{}, { $or: [{ a: 1 }, { b: 2 }] }, { a: { $exists: false } }, { _id: 'x' }, { 'a.0': 1 }, { $and: [{ $eq: 1 }] }]) {
      assert.equal(plan(sel).scan, null, JSON.stringify(sel));
    }
  });

  test('$eq on a scalar is an equality scan on the field path', () => {
    assert.deepEqual(plan({ 'exports.city': 'Moscow' }).scan, { kind: 'eq', path: 'exports/city', values: ['Moscow'], elements: false });
  });

  test('$in scans each value, on the field and on its elements (CouchDB $in looks into arrays)', () => {
    assert.deepEqual(plan({ a: { $in: [2, 1, 1.0] } }).scan, { kind: 'eq', path: 'a', values: [1, 2], elements: true });
  });

  test('range bounds on one field merge into the tightest range', () => {
    assert.deepEqual(plan({ a: { $gt: 1, $gte: 1, $lt: 9, $lte: 5 } }).scan, { kind: 'range', path: 'a', gt: 1, lte: 5 });
    assert.deepEqual(plan({ $and: [{ a: { $gte: 3 } }, { a: { $gt: 2 } }] }).scan, { kind: 'range', path: 'a', gte: 3 });
  });

  test('bounds from two $elemMatch on one array are not merged: different elements may meet them', () => {
    // {a: [[], null]} matches both: null is <= null, and [] is > null.
    const sel = { $and: [{ a: { $elemMatch: { $lte: null } } }, { a: { $elemMatch: { $gt: null } } }] };
    assert.deepEqual(plan(sel).scan, { kind: 'range', path: 'a/[]', lte: null });
    // Within one $elemMatch the bounds hold for one element, and merge.
    assert.deepEqual(plan({ a: { $elemMatch: { $gt: 1, $lt: 5 } } }).scan, { kind: 'range', path: 'a/[]', gt: 1, lt: 5 });
    const nested = { a: { $elemMatch: { b: { $elemMatch: { $gt: 1 } } } }, $and: [{ a: { $elemMatch: { b: { $elemMatch: { $lt: 0 } } } } }] };
    assert.deepEqual(plan(nested).scan, { kind: 'range', path: 'a/[]/b/[]', gt: 1 });
  });

  test('rank: eq (fewest values) > two-sided range > one-sided range > typed exists > exists', () => {
    assert.equal(plan({ a: { $exists: true }, b: { $gt: 1 } }).scan?.path, 'b');
    assert.equal(plan({ a: { $gt: 1 }, b: { $gt: 1, $lt: 3 } }).scan?.path, 'b');
    assert.equal(plan({ a: { $gt: 1 }, b: { $gt: null, $lt: null } }).scan?.path, 'b');
    assert.equal(plan({ a: { $gt: 1, $lt: 3 }, b: 4 }).scan?.path, 'b');
    assert.equal(plan({ a: { $in: [1, 2] }, b: 4 }).scan?.path, 'b');
    assert.deepEqual(plan({ a: { $ne: 1 }, b: { $regex: 'x' } }).scan, { kind: 'exists', path: 'b', type: 'string' });
  });

  test('only top-level AND-ed clauses drive a scan; a one-clause $or counts as AND', () => {
    assert.equal(plan({ $or: [{ a: 1 }], b: { $or: [{ c: 1 }, { d: 2 }] } }).scan?.path, 'a');
  });

  test('$elemMatch scans the element path: f/[] for scalars, f/[]/sub for objects', () => {
    assert.deepEqual(plan({ s: { $elemMatch: { $eq: 3 } } }).scan, { kind: 'eq', path: 's/[]', values: [3], elements: false });
    assert.deepEqual(plan({ e: { $elemMatch: { city: 'Paris', n: { $gt: 1 } } } }).scan, {
      kind: 'eq',
      path: 'e/[]/city',
      values: ['Paris'],
      elements: false,
    });
    assert.deepEqual(plan({ t: { $all: ['x'] } }).scan, { kind: 'eq', path: 't/[]', values: ['x'], elements: false });
  });

  test('conditions that only need the field to be there use an exists scan', () => {
    assert.deepEqual(plan({ a: { $nin: [1] } }).scan, { kind: 'exists', path: 'a' });
    assert.deepEqual(plan({ a: { $size: 1 } }).scan, { kind: 'exists', path: 'a', type: 'array' });
    assert.deepEqual(plan({ a: [1] }).scan, { kind: 'exists', path: 'a', type: 'array' });
  });

  test('a sort on a field with a usable clause is served in index order', () => {
    const p = plan({ a: { $gt: 1, $lt: 3 }, b: { $type: 'number' } }, [{ b: 'desc' }]);
    assert.deepEqual(p.scan, { kind: 'exists', path: 'b', type: 'number' });
    assert.equal(p.sortedByIndex, true);
    assert.equal(plan({ a: { $lt: null } }, ['a']).sortedByIndex, true);
    assert.equal(plan({ a: { $lt: 'z' } }, ['a', '_id']).sortedByIndex, true);
    assert.equal(plan({ a: { $lt: 'z' } }, ['a', 'b']).sortedByIndex, false);
    // Arrays share one marker in the index, so a scan reaching them cannot give collation order.
    assert.equal(plan({ a: { $gt: 1 } }, ['a']).sortedByIndex, false);
    assert.equal(plan({ a: { $exists: true } }, ['a']).sortedByIndex, false);
    assert.equal(plan({ a: { $in: [1, 2] } }, ['a']).sortedByIndex, false); // element entries break the order
    assert.equal(plan({ a: 1 }, ['a']).sortedByIndex, true);
  });

  test('an equality elsewhere beats a sorted range', () => {
    const p = plan({ a: { $gt: 1, $lt: 5 }, b: 2 }, ['a']);
    assert.equal(p.scan?.path, 'b');
    assert.equal(p.sortedByIndex, false);
  });
});

describe('scanBounds', () => {
  test('eq: [path 00 E 00, path 00 E 01) per value, ascending', () => {
    assert.deepEqual(scanBounds({ kind: 'eq', path: 'a', values: [1], elements: false }), [
      { gte: `a${S}${enc(1)}${S}`, lt: `a${S}${enc(1)}\u0001` },
    ]);
    const b = scanBounds({ kind: 'eq', path: 'a', values: ['y', 'x'], elements: true });
    assert.deepEqual(b.map((r) => r.gte), [`a${S}${enc('x')}${S}`, `a${S}${enc('y')}${S}`, `a/[]${S}${enc('x')}${S}`, `a/[]${S}${enc('y')}${S}`]);
  });

  test('range: exclusive bounds step past the separator, inclusive ones stop at it', () => {
    assert.deepEqual(scanBounds({ kind: 'range', path: 'a', gt: 1, lte: 2 }), [{ gte: `a${S}${enc(1)}\u0001`, lt: `a${S}${enc(2)}\u0001` }]);
    assert.deepEqual(scanBounds({ kind: 'range', path: 'a', gte: 1, lt: 2 }), [{ gte: `a${S}${enc(1)}${S}`, lt: `a${S}${enc(2)}${S}` }]);
    assert.deepEqual(scanBounds({ kind: 'range', path: 'a' }), [{ gte: `a${S}`, lt: 'a\u0001' }]);
    assert.deepEqual(scanBounds({ kind: 'range', path: 'a', gt: 2, lt: 1 }), []);
    assert.deepEqual(scanBounds({ kind: 'range', path: 'a', gt: 1, lt: 1 }), []);
  });

  test('exists with a type reads only that type', () => {
    assert.deepEqual(scanBounds({ kind: 'exists', path: 'a', type: 'boolean' }), [{ gte: `a${S}2`, lt: `a${S}4` }]);
    assert.deepEqual(scanBounds({ kind: 'eq', path: 'a', values: [], elements: true }), []);
  });
});
