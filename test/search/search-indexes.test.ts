// SearchIndexes: indexes opened from design documents, update modes, definition changes and
// cleanup, the HTTP parameter helper, and the function form (through a stand-in sandbox here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import type { RefugeError } from '../../src/errors/index.ts';
import { SearchIndexes, searchRequest } from '../../src/search/index.ts';
import { ids, plainSandbox, POSTS, sorted } from './helpers.ts';

const DDOC = {
  _id: '_design/s',
  indexes: {
    byFields: { fields: ['title', 'body'], selector: { type: 'post' }, store: ['title'] },
    byFn: {
      index: "function (doc) { if (doc.type !== 'post') return; if (doc.title) index('title', doc.title, {store: true}); index('default', doc.body); if (doc.year > 2021) throw new Error('boom'); }",
    },
  },
};

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const { db, cleanup } = await freshDb('memory', { design: false }); // this suite runs its own SearchIndexes, accepting any definition
  const store = await memoryEngine.open({ location: 'idx' });
  const indexes = new SearchIndexes({ db, store, createSandbox: plainSandbox, index: { saveDelayMs: 3_600_000 } });
  t.after(async () => {
    await indexes.close();
    await store.close();
    await cleanup();
  });
  await db.bulkDocs([...POSTS, DDOC]);
  return { db, store, indexes };
}

test('queries catch up first by default; update=false and lazy read the index as it is', async (t) => {
  const { db, indexes } = await setup(t);
  assert.deepEqual(sorted(ids(await indexes.query('s', 'byFields', { q: 'red' }))), ['p1', 'p2']);
  await db.put({ _id: 'p7', type: 'post', title: 'red shoes' });
  assert.equal((await indexes.query('s', 'byFields', { q: 'red' }, { update: 'false' })).total_rows, 2);
  assert.equal((await indexes.query('s', 'byFields', { q: 'red' }, { update: 'lazy' })).total_rows, 2);
  // The lazy query started a catch-up: joining it makes the result visible without waiting on time.
  await (await indexes.index('s', 'byFields')).feeder.catchUp();
  assert.equal((await indexes.query('s', 'byFields', { q: 'red' }, { update: 'false' })).total_rows, 3);
  assert.equal((await indexes.query('_design/s', 'byFields', { q: 'red' })).total_rows, 3);
});

test('include_docs attaches the current documents', async (t) => {
  const { indexes } = await setup(t);
  const r = await indexes.query('s', 'byFields', { q: 'balloons', includeDocs: true });
  assert.equal(r.rows[0]!.doc?._id, 'p2');
  assert.equal(r.rows[0]!.doc?.body, POSTS[1]!.body);
});

test('the function form: stored fields, the default field, and documents whose function throws', async (t) => {
  const { indexes } = await setup(t);
  assert.deepEqual(sorted(ids(await indexes.query('s', 'byFn', { q: 'blue' }))), ['p2', 'p3'], 'unqualified terms search "default"');
  assert.deepEqual(sorted(ids(await indexes.query('s', 'byFn', { q: 'title:red' }))), ['p1', 'p2']);
  assert.equal((await indexes.query('s', 'byFn', { q: 'title:foxes' })).total_rows, 0, 'p4 threw: left out');
  const r = await indexes.query('s', 'byFn', { q: 'title:"big red"' });
  assert.deepEqual(r.rows.map((x) => x.fields), [{ title: 'The big red fox' }]);
});

test('a changed definition gets a fresh index; cleanup removes the stored old one', async (t) => {
  const { db, store, indexes } = await setup(t);
  await indexes.query('s', 'byFields', { q: 'red' });
  await (await indexes.index('s', 'byFields')).index.flush();
  const ddoc = await db.get('_design/s');
  const keysUnder = async () => {
    const sigs = new Set<string>();
    for await (const keys of store.scanKeys({ gte: 'search/', lt: 'search/\uffff' })) for (const k of keys) sigs.add(k.split('/')[1]!);
    return sigs;
  };
  assert.equal((await keysUnder()).size, 1);
  await db.put({ ...ddoc, indexes: { ...(ddoc.indexes as object), byFields: { fields: ['body'] } } });
  assert.deepEqual(sorted(ids(await indexes.query('s', 'byFields', { q: 'red' }))), ['p2'], 'now over body only, every type');
  await (await indexes.index('s', 'byFields')).index.flush();
  assert.equal((await keysUnder()).size, 2);
  assert.equal(await indexes.cleanup(), 1);
  assert.equal((await keysUnder()).size, 1);
  assert.equal((await indexes.query('s', 'byFields', { q: 'red' })).total_rows, 1);
});

test('missing design documents and indexes are not_found; invalid definitions invalid_design_doc', async (t) => {
  const { db, indexes } = await setup(t);
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: RefugeError) => e.code);
  assert.equal(await code(indexes.query('nope', 'byFields', { q: 'a' })), 'not_found');
  assert.equal(await code(indexes.query('s', 'nope', { q: 'a' })), 'not_found');
  await db.put({ _id: '_design/bad', indexes: { x: { fields: 'title' } } });
  assert.equal(await code(indexes.query('bad', 'x', { q: 'a' })), 'invalid_design_doc');
  await db.put({ _id: '_design/bad2', indexes: { x: { fields: ['a'], analyzer: 'klingon' } } });
  assert.equal(await code(indexes.query('bad2', 'x', { q: 'a' })), 'invalid_design_doc');
  await db.put({ _id: '_design/bad3', indexes: { x: { index: 'not a function' } } });
  assert.equal(await code(indexes.query('bad3', 'x', { q: 'a' })), 'invalid_design_doc');
  const noSandbox = new SearchIndexes({ db, store: await memoryEngine.open({ location: 'x' }), createSandbox: false });
  assert.equal(await code(noSandbox.query('s', 'byFn', { q: 'a' })), 'not_implemented');
  await noSandbox.close();
});

test('searchRequest takes CouchDB query parameters', async (t) => {
  const { indexes } = await setup(t);
  const r = await searchRequest(indexes, 's', 'byFields', { q: 'title:*', limit: '2', sort: '["-title<string>"]', include_docs: 'true' });
  assert.equal(r.total_rows, 4);
  assert.deepEqual(ids(r), ['p1', 'p2']);
  assert.equal(r.rows[0]!.doc?._id, 'p1');
  const next = await searchRequest(indexes, 's', 'byFields', { query: 'title:*', limit: 2, sort: ['-title<string>'], bookmark: r.bookmark, stale: 'ok' });
  assert.deepEqual(ids(next), ['p4', 'p3']);
  const only = await searchRequest(indexes, 's', 'byFields', { q: 'fox', include_fields: '["nope"]' });
  assert.deepEqual(only.rows[0]!.fields, {});
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: RefugeError) => e.code);
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', {})), 'query_parse_error');
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', { q: 'a', limit: 'ten' })), 'query_parse_error');
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', { q: 'a', stale: 'bad' })), 'query_parse_error');
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', { q: 'a', sort: '["x"' })), 'query_parse_error');
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', { q: 'a', counts: '["tags"]' })), 'bad_request');
  assert.equal(await code(searchRequest(indexes, 's', 'byFields', { q: 'a AND' })), 'query_parse_error');
});

test('_search_info figures, and an index saved ahead of its database (recreated) is rebuilt', async (t) => {
  const store = await memoryEngine.open({ location: 'shared' });
  const first = await freshDb('memory');
  await first.db.bulkDocs([...POSTS, DDOC, { _id: 'extra1', type: 'post', title: 'red' }, { _id: 'extra2', type: 'post', title: 'red' }]);
  let indexes = new SearchIndexes({ db: first.db, store });
  assert.equal((await indexes.query('s', 'byFields', { q: 'red' })).total_rows, 4);
  const before = await indexes.info('s', 'byFields');
  assert.deepEqual(before, { name: '_design/s/byFields', search_index: { doc_count: 6, pending_seq: 8, committed_seq: 0 } });
  await indexes.close();
  await first.cleanup();

  const second = await freshDb('memory');
  t.after(second.cleanup);
  await second.db.bulkDocs([DDOC, { _id: 'z', type: 'post', title: 'red' }]);
  indexes = new SearchIndexes({ db: second.db, store });
  t.after(async () => {
    await indexes.close();
    await store.close();
  });
  assert.deepEqual(ids(await indexes.query('s', 'byFields', { q: 'red' })), ['z']);
});

test('a query under way keeps its index when the definition is edited meanwhile (it used to fail: closed)', async (t) => {
  const { db, cleanup } = await freshDb('memory', { design: false });
  const store = await memoryEngine.open({ location: 'idx' });
  // The first sandbox is made only when released: the first query is under way while the edit lands.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let starting!: () => void;
  const started = new Promise<void>((resolve) => (starting = resolve));
  let gated = true;
  const indexes = new SearchIndexes({
    db,
    store,
    createSandbox: async () => {
      if (gated) {
        gated = false;
        starting();
        await released;
      }
      return plainSandbox();
    },
    index: { saveDelayMs: 3_600_000 },
  });
  t.after(async () => {
    await indexes.close();
    await store.close();
    await cleanup();
  });
  await db.bulkDocs(POSTS);
  const first = await db.put({ _id: '_design/s', indexes: { byFn: DDOC.indexes.byFn } });
  const underWay = indexes.query('s', 'byFn', { q: 'title:red' });
  await started;
  await db.put({ _id: '_design/s', _rev: first.rev, indexes: { byFn: { index: "function (doc) { if (doc.title) index('title', doc.title); }" } } });
  // Another call reads the edited definition: the old index is retired, not closed under the query.
  const info = await indexes.info('s', 'byFn');
  release();
  assert.deepEqual(sorted(ids(await underWay)), ['p1', 'p2']);
  assert.equal(info.name, '_design/s/byFn');
});
