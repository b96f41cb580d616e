import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseSort, sortComparator } from '../../src/query/sort.ts';
import { parseFields, projectFields } from '../../src/query/project.ts';

const rejects = (fn: () => unknown, reason: string, code: string) =>
  assert.throws(fn, (err: any) => err.code === code && err.reason === reason);

describe('parseSort: CouchDB mango_sort', () => {
  test('strings sort ascending; {"field": "asc"|"desc"} objects name the direction', () => {
    assert.deepEqual(parseSort(['a', { b: 'asc' }]), [
      { field: 'a', dir: 'asc' },
      { field: 'b', dir: 'asc' },
    ]);
    assert.deepEqual(parseSort([{ 'a.b': 'desc' }]), [{ field: 'a.b', dir: 'desc' }]);
    assert.deepEqual(parseSort(undefined), []);
  });

  test("invalid sorts get Mango's error names and CouchDB's reasons", () => {
    rejects(() => parseSort('a'), 'Sort must be an array of sort specs, not: "a"', 'invalid_sort_json');
    rejects(() => parseSort(null), 'Sort must be an array of sort specs, not: null', 'invalid_sort_json');
    rejects(() => parseSort(['']), 'Invalid sort field: ""', 'invalid_sort_field');
    rejects(() => parseSort([1]), 'Invalid sort field: 1', 'invalid_sort_field');
    rejects(() => parseSort([{ a: 'up' }]), 'Invalid sort field: {"a":"up"}', 'invalid_sort_field');
    rejects(() => parseSort([{ a: 'asc', b: 'asc' }]), 'Invalid sort field: {"a":"asc","b":"asc"}', 'invalid_sort_field');
    rejects(() => parseSort(['a', { b: 'desc' }]), 'Sorts currently only support a single direction for all fields.', 'unsupported_mixed_sort');
  });
});

describe('sortComparator', () => {
  const ids = (docs: object[], sort: unknown) => [...docs].sort(sortComparator(parseSort(sort))).map((d: any) => d._id);
  const docs = [
    { _id: 'd', n: 'x' },
    { _id: 'b', n: 2 },
    { _id: 'a', n: 2 },
    { _id: 'c', n: null },
    { _id: 'e' },
    { _id: 'f', n: [0] },
  ];

  test('orders by collation; a missing field is lowest; ties by _id in the same direction', () => {
    assert.deepEqual(ids(docs, ['n']), ['e', 'c', 'a', 'b', 'd', 'f']);
    assert.deepEqual(ids(docs, [{ n: 'desc' }]), ['f', 'd', 'b', 'a', 'c', 'e']);
  });

  test('several fields, dotted paths', () => {
    const rows = [
      { _id: '1', a: { b: 2 }, c: 1 },
      { _id: '2', a: { b: 1 }, c: 2 },
      { _id: '3', a: { b: 1 }, c: 1 },
    ];
    assert.deepEqual(ids(rows, ['a.b', 'c']), ['3', '2', '1']);
  });
});

describe('projectFields: CouchDB mango_fields:extract', () => {
  const doc = { _id: 'x', _rev: '1-a', a: { b: 1, c: 2 }, l: [{ k: 1 }, { k: 2 }], 'd.e': 3 };

  test('keeps only the named fields, nested as in the document; _id is not implied', () => {
    assert.deepEqual(projectFields(doc, ['a.b', '_id']), { a: { b: 1 }, _id: 'x' });
    assert.deepEqual(projectFields(doc, ['a']), { a: { b: 1, c: 2 } });
    assert.deepEqual(projectFields(doc, ['d\\.e']), { 'd.e': 3 });
  });

  test('missing fields and paths through arrays by name are left out; positions work', () => {
    assert.deepEqual(projectFields(doc, ['zz', 'l.k']), {});
    assert.deepEqual(projectFields(doc, ['l.1.k']), { l: { '1': { k: 2 } } });
  });

  test('no fields means the whole document; fields must be strings', () => {
    assert.equal(projectFields(doc, undefined), doc);
    assert.equal(parseFields([]), undefined);
    assert.deepEqual(parseFields(['a']), ['a']);
    rejects(() => parseFields('a'), 'Fields must be an array of strings, not: "a"', 'invalid_fields');
    // CouchDB names a bad element apart (mango_fields: invalid_field_json).
    rejects(() => parseFields([1]), 'Invalid JSON for field spec: 1', 'invalid_field');
    rejects(() => parseFields(['a', {}]), 'Invalid JSON for field spec: {}', 'invalid_field');
    rejects(() => parseFields(null), 'Fields must be an array of strings, not: null', 'invalid_fields');
  });
});
