// Json index design documents as CouchDB writes them (a replicated one, or one PUT by hand): listed,
// chosen and recognised as CouchDB does, and fields whose names JavaScript reorders (integer-like)
// kept in the index's order by every reader, through PouchDB's pouchdb-find as a client would; a
// Mango text index's design document is stored and replicated as CouchDB stores it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { localPouch, PouchDB, type Pouch } from '../http/pouchdb.ts';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('json index design documents, as CouchDB writes and reads them', () => {
  let server: TestServer;
  let db: Pouch;
  const ids = (r: { docs: Array<{ _id: string }> }) => r.docs.map((d) => d._id);

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    db = new PouchDB(`${server.url}/ddocs`);
    await db.bulkDocs(Array.from({ length: 10 }, (_, i) => ({ _id: `d${i}`, n: i, b: i % 3, '1': 9 - i })));
  });
  after(async () => {
    await db.close();
    await server.close();
  });

  test("CouchDB's own layout (`partial_filter_selector: {}`, the request's fields in options.def) is a plain index", async () => {
    // What CouchDB 3 stores for POST _index {"index": {"fields": ["n"]}, "ddoc": "couch", "name": "byn"}.
    await db.put({
      _id: '_design/couch',
      language: 'query',
      views: { byn: { map: { fields: { n: 'asc' }, partial_filter_selector: {} }, reduce: '_count', options: { def: { fields: ['n'] } } } },
    });
    const listed = (await db.getIndexes()).indexes.find((i: { name: string }) => i.name === 'byn');
    assert.deepEqual(listed, { ddoc: '_design/couch', name: 'byn', type: 'json', partitioned: false, def: { fields: [{ n: 'asc' }] } });
    // Not partial: the planner picks it without being told, so a sort on n needs no full scan.
    const explained = await db.explain({ selector: { n: { $gte: 7 } } });
    assert.equal(explained.index.ddoc, '_design/couch');
    const sorted = await db.find({ selector: {}, sort: [{ n: 'desc' }], limit: 3 });
    assert.deepEqual(ids(sorted), ['d9', 'd8', 'd7']);
    assert.equal(sorted.warning, undefined);
    // Asked for again, it exists: the design document is not rewritten (a new revision would
    // replicate back to the CouchDB it came from).
    const rev = (await db.get('_design/couch'))._rev;
    assert.deepEqual(await db.createIndex({ index: { fields: ['n'] }, ddoc: 'couch', name: 'byn' }), { result: 'exists', id: '_design/couch', name: 'byn' });
    assert.equal((await db.get('_design/couch'))._rev, rev);
  });

  test('a partial, descending index is listed and explained with its direction and filter, from its map', async () => {
    await db.put({
      _id: '_design/couch2',
      language: 'query',
      views: {
        byb: {
          map: { fields: { b: 'desc' }, partial_filter_selector: { n: { $gt: 2 } } },
          reduce: '_count',
          options: { def: { fields: [{ b: 'desc' }], partial_filter_selector: { n: { $gt: 2 } } } },
        },
      },
    });
    const def = { fields: [{ b: 'desc' }], partial_filter_selector: { n: { $gt: 2 } } };
    assert.deepEqual((await db.getIndexes()).indexes.find((i: { name: string }) => i.name === 'byb').def, def);
    const explained = await db.explain({ selector: { b: 1 }, use_index: 'couch2' });
    assert.deepEqual(explained.index.def, def);
    assert.deepEqual(ids(await db.find({ selector: { b: 1 }, use_index: 'couch2' })), ['d4', 'd7']);
  });

  test('an index from before CouchDB 2.1 filters by its map.selector, as CouchDB still applies it', async () => {
    // CouchDB's test_old_selector_still_supported: `selector` where partial_filter_selector is now.
    await db.put({
      _id: '_design/oldschool',
      language: 'query',
      views: { oldschool: { map: { fields: { n: 'asc' }, selector: { b: { $gte: 2 } } }, reduce: '_count', options: { def: { fields: ['n'] } } } },
    });
    assert.deepEqual(ids(await db.find({ selector: { n: { $gt: null } }, use_index: 'oldschool' })), ['d2', 'd5', 'd8']);
    // Partial, so never picked unasked: a query it does not name reads every match.
    assert.notEqual((await db.explain({ selector: { n: { $gt: 5 } } })).index.ddoc, '_design/oldschool');
    assert.deepEqual(ids(await db.find({ selector: { n: { $gt: 5 } } })), ['d6', 'd7', 'd8', 'd9']);
  });

  test("a Mango text index's design document replicates in and is stored as it is, served by nothing", async () => {
    // What CouchDB (with Clouseau) writes for POST _index {"index": {}, "type": "text", "ddoc": "txt"}.
    const textDdoc = {
      _id: '_design/txt',
      language: 'query',
      indexes: {
        ti: {
          index: { default_analyzer: 'keyword', default_field: {}, selector: {}, fields: 'all_fields', index_array_lengths: true },
          analyzer: { name: 'perfield', default: 'keyword', fields: { $default: 'standard' } },
        },
      },
    };
    const { Local, cleanup } = await localPouch();
    const local = new Local('with-text-index');
    try {
      await local.put(textDdoc);
      const res = await local.replicate.to(db);
      assert.deepEqual([res.ok, res.docs_written, res.doc_write_failures], [true, 1, 0]);
    } finally {
      await local.close();
      await cleanup();
    }
    const stored = await db.get('_design/txt');
    assert.deepEqual(stored.indexes, textDdoc.indexes);
    // As a CouchDB without Clouseau: not listed, and _find answers as before.
    assert.ok(!(await db.getIndexes()).indexes.some((i: { ddoc: string | null }) => i.ddoc === '_design/txt'));
    assert.deepEqual(ids(await db.find({ selector: { n: 3 }, fields: ['_id'] })), ['d3']);
  });

  test('deleting the last json index of a design document that holds a text index keeps the text index', async () => {
    const indexes = { ti: { index: { fields: 'all_fields' }, analyzer: 'keyword' } };
    for (const ddoc of ['both1', 'both2']) {
      await db.put({ _id: `_design/${ddoc}`, language: 'query', indexes });
      assert.equal((await db.createIndex({ index: { fields: ['n'] }, ddoc, name: 'n' })).result, 'created');
    }
    // One by DELETE (PouchDB's deleteIndex), one by _bulk_delete: the views go, the rest stays.
    await db.deleteIndex({ ddoc: '_design/both1', name: 'n', type: 'json' });
    const bulk = await request(`${server.url}/ddocs/_index/_bulk_delete`, { method: 'POST', body: { docids: ['both2'] } });
    assert.deepEqual(bulk.body, { success: [{ id: '_design/both2', ok: true }], fail: [] });
    for (const ddoc of ['both1', 'both2']) {
      const { _id, _rev, ...rest } = await db.get(`_design/${ddoc}`);
      assert.deepEqual(rest, { language: 'query', indexes }, ddoc);
    }
    // Now without a json index: nothing for either to delete.
    const again = await request(`${server.url}/ddocs/_index/_bulk_delete`, { method: 'POST', body: { docids: ['both2'] } });
    assert.deepEqual(again.body, { success: [], fail: [{ id: '_design/both2', error: 'not_found' }] });
    assert.equal((await request(`${server.url}/ddocs/_index/both1/json/n`, { method: 'DELETE' })).status, 404);
  });

  test('an index on ["b", "1"] keeps that order for its planner, its listing and its explanation', async () => {
    // JavaScript lists the integer-like "1" before "b" in the map's `fields` object.
    const made = await db.createIndex({ index: { fields: ['b', '1'] }, ddoc: 'b1', name: 'b1' });
    assert.equal(made.result, 'created');
    const found = await db.find({ selector: { b: 1, '1': { $gt: 3 } }, fields: ['_id', 'b', '1'] });
    assert.deepEqual(ids(found), ['d4', 'd1'], 'read as [b, "1"]: b = 1, then "1" ascending');
    const def = { fields: [{ b: 'asc' }, { '1': 'asc' }] };
    assert.deepEqual((await db.explain({ selector: { b: 1, '1': { $gt: 3 } } })).index.def, def);
    assert.deepEqual((await db.getIndexes()).indexes.find((i: { name: string }) => i.name === 'b1').def, def);
    // Raw, as a CouchDB peer replicating the design document would read it: the request's own
    // definition, an array in the index's order (mango_idx_view:make_view).
    const stored = (await request(`${server.url}/ddocs/_design/b1`)).body;
    assert.deepEqual(stored.views.b1.options.def.fields, ['b', '1']);
  });
});
