// The function form through the real QuickJS sandbox: index(field, value, options) calls, stored
// fields, per-document errors, a function that does not compile, and updates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import type { RefugeError } from '../../src/errors/index.ts';
import { SearchIndexes, searchDefinitions } from '../../src/search/index.ts';
import { ids, POSTS, sorted } from './helpers.ts';

const DDOC = {
  _id: '_design/f',
  indexes: {
    posts: {
      index: `function (doc) {
        if (doc.type !== 'post') return;
        index('title', doc.title, { store: true });
        index('default', doc.title + ' ' + doc.body);
        (doc.tags || []).forEach(function (t) { index('tags', t, { store: true }); });
        if (doc.year) index('year', doc.year, { store: true });
        if (doc.author) index('author', doc.author.name.toUpperCase());
      }`,
      analyzer: 'standard',
    },
    broken: { index: 'function (doc) { index("a", ; }' },
  },
};

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const { db, cleanup } = await freshDb('memory');
  const store = await memoryEngine.open({ location: 'fn' });
  const indexes = new SearchIndexes({ db, store });
  t.after(async () => {
    await indexes.close();
    await store.close();
    await cleanup();
  });
  await db.bulkDocs([...POSTS, DDOC]);
  return { db, indexes };
}

test('index functions run in the sandbox: fields, stored values, the default field', async (t) => {
  const { indexes } = await setup(t);
  assert.deepEqual(sorted(ids(await indexes.query('f', 'posts', { q: 'red' }))), ['p1', 'p2']);
  assert.deepEqual(sorted(ids(await indexes.query('f', 'posts', { q: 'tags:animals' }))), ['p1', 'p4']);
  assert.deepEqual(ids(await indexes.query('f', 'posts', { q: 'author:lovelace' })), ['p4']);
  assert.deepEqual(ids(await indexes.query('f', 'posts', { q: 'year:2019' })), ['p3']);
  const r = await indexes.query('f', 'posts', { q: '"lazy dog"' });
  assert.deepEqual(r.rows.map((x) => x.fields), [{ title: 'The big red fox', tags: ['animals', 'fox'], year: 2020 }]);
  assert.deepEqual(ids(await indexes.query('f', 'posts', { q: 'title:*', sort: '-year<number>', limit: 2 })), ['p4', 'p2']);
});

test('a document whose function throws is left out; the others are indexed', async (t) => {
  const { db, indexes } = await setup(t);
  // author without a name: doc.author.name.toUpperCase() throws for this one.
  await db.bulkDocs([
    { _id: 'bad', type: 'post', title: 'red herring', body: 'x', author: {} },
    { _id: 'good', type: 'post', title: 'red panda', body: 'y' },
  ]);
  assert.deepEqual(sorted(ids(await indexes.query('f', 'posts', { q: 'title:red' }))), ['good', 'p1', 'p2']);
  const good = await db.get('good');
  await db.put({ ...good, title: 'blue panda' });
  const p2 = await db.get('p2');
  await db.remove('p2', p2._rev!);
  assert.deepEqual(sorted(ids(await indexes.query('f', 'posts', { q: 'title:red' }))), ['p1']);
  assert.deepEqual(ids(await indexes.query('f', 'posts', { q: 'panda' })), ['good']);
});

test('a function that does not compile fails the query with compilation_error', async (t) => {
  const { indexes } = await setup(t);
  const err = await indexes.query('f', 'broken', { q: 'a' }).then(() => undefined, (e: RefugeError) => e);
  assert.equal(err?.code, 'compilation_error');
});

test('fields named like members every object has (constructor, toString) are fields like any', async (t) => {
  const { db, indexes } = await setup(t);
  await db.put({
    _id: '_design/g',
    indexes: {
      all: {
        index: "function (doc) { for (var k in doc) if (k.charAt(0) !== '_' && typeof doc[k] === 'string') { index(k, doc[k], { store: true }); index('default', doc[k]); } }",
      },
    },
  });
  await db.bulkDocs([
    { _id: 'c', body: 'hello car', constructor: 'car', toString: 'x y' },
    { _id: 'd', body: 'hello there' },
  ]);
  // Before: every query of the index failed (texts['constructor'] was Object, not a list).
  assert.deepEqual(sorted(ids(await indexes.query('g', 'all', { q: 'hello' }))), ['c', 'd']);
  assert.deepEqual(ids(await indexes.query('g', 'all', { q: 'constructor:car' })), ['c']);
  assert.deepEqual(ids(await indexes.query('g', 'all', { q: 'toString:"x y"' })), ['c']);
  // Sorting by such a field reads the document's own value, or none.
  assert.deepEqual(ids(await indexes.query('g', 'all', { q: 'hello', sort: 'toString<string>' })), ['c', 'd']);
  assert.deepEqual((await indexes.query('g', 'all', { q: 'constructor:car' })).rows[0]!.fields, { body: 'hello car', constructor: 'car', toString: 'x y' });
});

test("an index function's required modules are part of its index: two design documents get one each, and editing a module rebuilds it", async (t) => {
  const { db, indexes } = await setup(t);
  const fn = "function (doc) { if (!doc.w) return; var l = require('lib/tag'); index('default', l.tag + ' ' + doc.w); }";
  await db.put({ _id: '_design/a', lib: { tag: "exports.tag = 'alpha';" }, indexes: { i: { index: fn } } });
  await db.put({ _id: '_design/b', lib: { tag: "exports.tag = 'beta';" }, indexes: { i: { index: fn } } });
  await db.put({ _id: 'x', w: 'word' });
  assert.deepEqual(ids(await indexes.query('a', 'i', { q: 'alpha' })), ['x']);
  assert.deepEqual(ids(await indexes.query('b', 'i', { q: 'beta' })), ['x']);
  assert.deepEqual(ids(await indexes.query('b', 'i', { q: 'alpha' })), []);
  const a = await db.get('_design/a');
  await db.put({ ...a, lib: { tag: "exports.tag = 'gamma';" } });
  await db.put({ _id: 'y', w: 'other' });
  assert.deepEqual(sorted(ids(await indexes.query('a', 'i', { q: 'gamma' }))), ['x', 'y']);
  assert.deepEqual(ids(await indexes.query('a', 'i', { q: 'alpha' })), []);
});

test('numbers given to index() sort as numbers, stored or not (the analyzed text loses a sign and splits an exponent)', async (t) => {
  const { db, indexes } = await setup(t);
  await db.put({ _id: '_design/n', indexes: { n: { index: "function (doc) { if (typeof doc.n === 'number') { index('n', doc.n); index('default', 'num'); } }" } } });
  const values: Record<string, number> = { minus3: -3, zero: 0, tiny: 1e-7, half: 0.5, two: 2, huge: 1e21 };
  await db.bulkDocs(Object.entries(values).map(([_id, n]) => ({ _id, n })));
  assert.deepEqual(ids(await indexes.query('n', 'n', { q: 'num', sort: 'n<number>' })), ['minus3', 'zero', 'tiny', 'half', 'two', 'huge']);
  assert.deepEqual(ids(await indexes.query('n', 'n', { q: 'num', sort: '-n<number>' })), ['huge', 'two', 'half', 'tiny', 'zero', 'minus3']);
});

test("an index's signature takes in the modules its function requires, not the design document's other members", () => {
  const fn = "function (doc) { var l = require('lib/tag'); index('default', l.tag); }";
  const sig = (ddoc: Record<string, unknown>) => searchDefinitions({ _id: '_design/a', ...ddoc }).get('i')!.signature;
  const base = { lib: { tag: "exports.tag = 'a';" }, views: { v: { map: 'function (doc) { emit(1); }' } }, indexes: { i: { index: fn } } };
  assert.equal(sig({ ...base, views: { v: { map: 'function (doc) { emit(2); }' } }, other: { x: 1 } }), sig(base), 'a view or another member edited: the same index');
  assert.notEqual(sig({ ...base, lib: { tag: "exports.tag = 'b';" } }), sig(base), 'its module edited: a new index');
  // A path not written out: every member that may hold modules counts, functions and settings aside.
  const dynamic = { ...base, indexes: { i: { index: "function (doc) { var p = 'lib/tag'; index('default', require(p).tag); }" } } };
  assert.notEqual(sig({ ...dynamic, other: { x: 1 } }), sig(dynamic));
  assert.equal(sig({ ...dynamic, views: { v: { map: 'function (doc) { emit(3); }' } } }), sig(dynamic));
});
