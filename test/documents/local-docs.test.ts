// `_local/` documents through the library: put/get/remove with `0-N` revs, never in allDocs or
// changes, and listed by `localDocs` with allDocs's options, on both engines.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { ENGINES, freshDb } from '../helpers/db.ts';

for (const engine of ENGINES) {
  describe(`local documents (${engine})`, () => {
    test("revs count on from the one given, never checked (CouchDB 2+), and they stay out of allDocs and changes", async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      assert.equal((await db.putLocal({ _id: '_local/cp', seq: 1 })).rev, '0-1');
      assert.equal((await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 2 })).rev, '0-2');
      // A stale rev, or none, overwrites: couch_db_updater's increment_local_doc_revs adds one to it.
      assert.equal((await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 3 })).rev, '0-2');
      assert.equal((await db.putLocal({ _id: '_local/cp', _rev: '0-7', seq: 4 })).rev, '0-8');
      assert.equal((await db.putLocal({ _id: '_local/cp', seq: 5 })).rev, '0-1');
      assert.deepEqual(await db.get('_local/cp'), { _id: '_local/cp', _rev: '0-1', seq: 5 });
      await assert.rejects(db.putLocal({ _id: '_local/cp', _rev: '1-abc', seq: 6 }), (e) => isRefugeError(e, 'bad_request'));
      await assert.rejects(db.putLocal({ _id: '_local/cp', _rev: '0-99999999999999999999', seq: 6 }), (e) => isRefugeError(e, 'bad_request'));
      // Values JSON cannot carry, and bodies nested past the limit, are refused before the write.
      let deep: unknown = [];
      for (let i = 0; i < 20_000; i++) deep = [deep];
      for (const v of [NaN, () => 1, deep]) await assert.rejects(db.putLocal({ _id: '_local/cp', seq: v as never }), (e) => isRefugeError(e, 'bad_request'));
      assert.deepEqual(await db.get('_local/cp'), { _id: '_local/cp', _rev: '0-1', seq: 5 });
      // A `_` member CouchDB does not know is refused, as on any document.
      await assert.rejects(db.putLocal({ _id: '_local/cp', _foo: 1 }), (e) => isRefugeError(e, 'doc_validation'));
      await assert.rejects(db.putLocal({ _id: '_local/del', _deleted: 'x' as unknown as boolean }), (e) => isRefugeError(e, 'doc_validation'), '_deleted must be a boolean');
      await assert.rejects(db.get('_local/del'), (e) => isRefugeError(e, 'not_found'));
      assert.deepEqual(await db.get('_local/cp'), { _id: '_local/cp', _rev: '0-1', seq: 5 });
      // A deletion takes any rev, or none; a missing document cannot be removed.
      await db.putLocal({ _id: '_local/gone', v: 1 });
      assert.equal((await db.removeLocal('_local/gone', '1-fake')).rev, '0-0');
      await assert.rejects(db.removeLocal('_local/gone'), (e) => isRefugeError(e, 'not_found'));
      await assert.rejects(db.removeLocal('_local/gone', 'garbage'), (e) => isRefugeError(e, 'bad_request'));
      await db.put({ _id: 'doc' });
      assert.deepEqual((await db.allDocs()).rows.map((r) => r.id), ['doc']);
      assert.deepEqual((await db.changes()).results.map((r) => r.id), ['doc']);
      await db.removeLocal('_local/cp');
      assert.deepEqual(await db.localDocs(), []);
    });

    test('localDocs: id order, ranges, descending, skip/limit, keys, include_docs; bad options refused', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      for (const id of ['d', 'b', 'a', 'c']) await db.putLocal({ _id: `_local/${id}`, v: id });
      const ids = async (o: Parameters<typeof db.localDocs>[0]) => (await db.localDocs(o)).map((r) => r.key);
      assert.deepEqual(await ids({}), ['_local/a', '_local/b', '_local/c', '_local/d']);
      assert.deepEqual(await ids({ startkey: '_local/b', endkey: '_local/c' }), ['_local/b', '_local/c']);
      assert.deepEqual(await ids({ startkey: '_local/b', endkey: '_local/d', inclusiveEnd: false }), ['_local/b', '_local/c']);
      assert.deepEqual(await ids({ descending: true, skip: 1, limit: 2 }), ['_local/c', '_local/b']);
      assert.deepEqual(await ids({ keys: ['_local/d', '_local/x'] }), ['_local/d', '_local/x']);
      assert.deepEqual((await db.localDocs({ keys: ['_local/x'] }))[0], { key: '_local/x', error: 'not_found' });
      assert.deepEqual((await db.localDocs({ key: '_local/c', includeDocs: true }))[0]!.doc, { _id: '_local/c', _rev: '0-1', v: 'c' });
      await assert.rejects(db.localDocs({ limit: -1 }), (e) => isRefugeError(e, 'bad_request'));
    });
  });
}
