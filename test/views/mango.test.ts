// Mango json indexes as views: the `_index` design-document shapes, native mapping (every field
// present, partial filter), and key ranges from selectors, checked against a brute-force filter.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileSelector } from '../../src/core.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import type { Doc } from '../../src/documents/index.ts';
import { listIndexes, prepareIndex, rangeFor, removeIndex, type MapResult } from '../../src/views/index.ts';
import { mangoGroup } from './helpers.ts';

describe('Mango json indexes', () => {
  test('_index shapes: create, exists, list, delete', () => {
    const body = { index: { fields: ['city', { age: 'asc' }], partial_filter_selector: { active: true } }, ddoc: 'people', name: 'by-city-age' };
    const created = prepareIndex(body, undefined);
    assert.equal(created.result, 'created');
    assert.equal(created.id, '_design/people');
    assert.deepEqual(created.doc, {
      _id: '_design/people',
      language: 'query',
      views: {
        'by-city-age': {
          map: { fields: { city: 'asc', age: 'asc' }, partial_filter_selector: { active: { $eq: true } } },
          reduce: '_count',
          // The request's own definition, as CouchDB keeps it.
          options: { def: { fields: ['city', { age: 'asc' }], partial_filter_selector: { active: true } } },
        },
      },
    });
    const again = prepareIndex(body, { ...created.doc!, _rev: '1-x' });
    assert.deepEqual(again, { result: 'exists', id: '_design/people', name: 'by-city-age' });
    const auto = prepareIndex({ index: { fields: ['x'] } }, undefined);
    assert.match(auto.id, /^_design\/[0-9a-f]{40}$/);
    const listed = listIndexes([{ ...created.doc!, _rev: '1-x' }, { _id: '_design/js', views: { v: { map: 'function(){}' } } }]);
    assert.equal(listed.total_rows, 2);
    assert.deepEqual(listed.indexes[1], {
      ddoc: '_design/people',
      name: 'by-city-age',
      type: 'json',
      partitioned: false,
      def: { fields: [{ city: 'asc' }, { age: 'asc' }], partial_filter_selector: { active: { $eq: true } } },
    });
    assert.deepEqual(removeIndex({ ...created.doc!, _rev: '1-x' }, 'by-city-age'), { _id: '_design/people', _rev: '1-x', _deleted: true });
    assert.throws(() => removeIndex(created.doc!, 'nope'), (e) => isRefugeError(e, 'not_found') && e.reason === 'missing');
    assert.throws(() => prepareIndex({ index: { fields: [] } }, undefined), (e) => isRefugeError(e, 'bad_request'));
    assert.throws(() => prepareIndex({ index: { fields: ['a', { b: 'desc' }] } }, undefined), (e) => isRefugeError(e, 'unsupported_mixed_sort'));
  });

  test('mapping: key = [field values] for documents with every field and matching the partial filter', async () => {
    const { doc } = prepareIndex({ index: { fields: ['city', 'info.age'], partial_filter_selector: { active: true } }, ddoc: 'p', name: 'i' }, undefined);
    const group = await mangoGroup(doc!, [
      { _id: 'a', city: 'Oslo', info: { age: 30 }, active: true },
      { _id: 'b', city: 'Lima', info: { age: 20 }, active: true },
      { _id: 'c', city: 'Oslo', info: {}, active: true },
      { _id: 'd', city: 'Oslo', info: { age: 40 }, active: false },
      { _id: 'e', city: null, info: { age: 1 }, active: true },
      { _id: '_design/x', city: 'Oslo', info: { age: 1 }, active: true },
    ]);
    const r = (await group.query('i', { reduce: false })) as MapResult;
    assert.deepEqual(
      r.rows.map((row) => [row.id, row.key, row.value]),
      [
        ['e', [null, 1], null],
        ['b', ['Lima', 20], null],
        ['a', ['Oslo', 30], null],
      ],
    );
    assert.deepEqual((await group.query('i', {})).rows, [{ key: null, value: 3 }]);
  });

  test('rangeFor narrows to a superset of the matches (checked against brute force)', async () => {
    const cities = ['Oslo', 'Lima', 'oslo', 'Zürich', '', 'b'];
    const docArb = fc.record({
      city: fc.oneof(fc.constantFrom(...cities), fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.boolean()),
      age: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('5', 'x', null, [1], { a: 1 })),
    });
    const value = fc.oneof(fc.constantFrom(...cities), fc.integer({ min: -3, max: 6 }), fc.constant(null), fc.boolean(), fc.constantFrom('5', [1], { a: 1 }));
    const op = fc.constantFrom('$eq', '$gt', '$gte', '$lt', '$lte');
    const { doc: ddoc } = prepareIndex({ index: { fields: ['city', 'age'] }, ddoc: 'p', name: 'i' }, undefined);
    await fc.assert(
      fc.asyncProperty(fc.array(docArb, { maxLength: 25 }), fc.array(fc.tuple(fc.constantFrom('city', 'age'), op, value), { minLength: 1, maxLength: 3 }), async (raw, conds) => {
        const docs: Doc[] = raw.map((d, i) => ({ _id: `d${i}`, ...d }));
        const group = await mangoGroup(ddoc!, docs);
        const selector = { $and: conds.map(([f, o, v]) => ({ [f]: { [o]: v } })) };
        const match = compileSelector(selector);
        const want = docs.filter((d) => match(d)).map((d) => d._id!).sort();
        const range = rangeFor(selector, ['city', 'age']);
        const ids = range === undefined ? docs.map((d) => d._id!) : [];
        if (range) for await (const row of group.scanRows('i', range)) ids.push(row.id);
        const got = docs.filter((d) => ids.includes(d._id!) && match(d)).map((d) => d._id!).sort();
        assert.deepEqual(got, want);
      }),
      { numRuns: 150 },
    );
  });

  test('rangeFor: equality prefix then one range field; undefined when the first field is free', () => {
    assert.equal(rangeFor({ age: 3 }, ['city', 'age']), undefined);
    const eq = rangeFor({ city: 'Oslo', age: { $gt: 2 } }, ['city', 'age'])!;
    assert.ok(eq.gte < eq.lt);
  });
});
