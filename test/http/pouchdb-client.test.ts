// PouchDB from npm as a real CouchDB client of Refuge's HTTP server: CRUD, bulk and range reads,
// revision options, conflicts, the changes feed (one-shot and live), Mango through pouchdb-find.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, type Pouch } from './pouchdb.ts';
import { startTestServer, type TestServer } from './server.ts';
import { until } from '../helpers/until.ts';

const REV_A = '1-' + 'a'.repeat(32);
const REV_B = '1-' + 'b'.repeat(32);
const REV_C = '2-' + 'c'.repeat(32);

describe('PouchDB (HTTP adapter) against Refuge', () => {
  let server: TestServer;
  let db: Pouch;

  before(async () => {
    server = await startTestServer();
    db = new PouchDB(`${server.url}/client`);
  });
  after(async () => {
    await db.close();
    await server.close();
  });

  test('put, get, update, remove', async () => {
    const put = await db.put({ _id: 'doc1', title: 'hello', tags: ['a'] });
    assert.equal(put.ok, true);
    assert.equal(put.id, 'doc1');
    assert.match(put.rev, /^1-[0-9a-f]{32}$/);
    const got = await db.get('doc1');
    assert.deepEqual(got, { _id: 'doc1', _rev: put.rev, title: 'hello', tags: ['a'] });
    const upd = await db.put({ ...got, title: 'world' });
    assert.match(upd.rev, /^2-/);
    await assert.rejects(db.put({ _id: 'doc1', _rev: put.rev, title: 'stale' }), (err: any) => err.status === 409 && err.name === 'conflict');
    const rem = await db.remove('doc1', upd.rev);
    assert.match(rem.rev, /^3-/);
    await assert.rejects(db.get('doc1'), (err: any) => err.status === 404 && err.reason === 'deleted');
    await assert.rejects(db.get('never'), (err: any) => err.status === 404 && err.reason === 'missing');
    const old = await db.get('doc1', { rev: put.rev });
    assert.equal(old.title, 'hello');
    const post = await db.post({ generated: true });
    assert.equal((await db.get(post.id)).generated, true);
  });

  test('bulkDocs and allDocs with keys, ranges, descending, include_docs', async () => {
    const docs = Array.from({ length: 10 }, (_, i) => ({ _id: `k${i}`, n: i }));
    const res = await db.bulkDocs(docs);
    assert.equal(res.length, 10);
    assert.ok(res.every((r: any) => r.ok));
    const dup = await db.bulkDocs([{ _id: 'k0', n: 99 }, { _id: 'k10', n: 10 }]);
    assert.equal(dup[0].status, 409);
    assert.equal(dup[0].name, 'conflict');
    assert.equal(dup[1].ok, true);

    const range = await db.allDocs({ startkey: 'k2', endkey: 'k5' });
    assert.deepEqual(range.rows.map((r: any) => r.id), ['k2', 'k3', 'k4', 'k5']);
    const exclusive = await db.allDocs({ startkey: 'k2', endkey: 'k5', inclusive_end: false });
    assert.deepEqual(exclusive.rows.map((r: any) => r.id), ['k2', 'k3', 'k4']);
    const desc = await db.allDocs({ startkey: 'k5', endkey: 'k2', descending: true, limit: 3 });
    assert.deepEqual(desc.rows.map((r: any) => r.id), ['k5', 'k4', 'k3']);
    const withDocs = await db.allDocs({ keys: ['k7', 'nope', 'k1'], include_docs: true });
    assert.equal(withDocs.rows[0].doc.n, 7);
    assert.deepEqual(withDocs.rows[1], { key: 'nope', error: 'not_found' });
    assert.equal(withDocs.rows[2].doc.n, 1);
    const skip = await db.allDocs({ startkey: 'k', endkey: 'k\uffff', skip: 2, limit: 2 });
    assert.deepEqual(skip.rows.map((r: any) => r.id), ['k10', 'k2']);
    const one = await db.allDocs({ key: 'k3', include_docs: true });
    assert.deepEqual(one.rows.map((r: any) => r.doc.n), [3]);
  });

  test('get with revs, revs_info, open_revs, conflicts', async () => {
    const r1 = await db.put({ _id: 'hist', v: 1 });
    const r2 = await db.put({ _id: 'hist', _rev: r1.rev, v: 2 });
    const withRevs = await db.get('hist', { revs: true });
    assert.equal(withRevs._revisions.start, 2);
    assert.deepEqual(withRevs._revisions.ids, [r2.rev.slice(2), r1.rev.slice(2)]);
    const info = await db.get('hist', { revs_info: true });
    assert.deepEqual(info._revs_info.map((r: any) => r.rev), [r2.rev, r1.rev]);
    assert.equal(info._revs_info[0].status, 'available');
    const open = await db.get('hist', { open_revs: 'all' });
    assert.deepEqual(open.map((o: any) => o.ok._rev), [r2.rev]);
    const named = await db.get('hist', { open_revs: [r2.rev, '9-' + 'f'.repeat(32)] });
    assert.equal(named.length, 2);
    assert.ok(named.some((o: any) => o.ok?._rev === r2.rev));
    assert.ok(named.some((o: any) => o.missing === '9-' + 'f'.repeat(32)));
    const noConflicts = await db.get('hist', { conflicts: true });
    assert.equal(noConflicts._conflicts, undefined);
  });

  test('conflicts: created with new_edits:false, read, resolved by deleting losers', async () => {
    const res = await db.bulkDocs(
      [
        { _id: 'conf', _rev: REV_A, side: 'a' },
        { _id: 'conf', _rev: REV_B, side: 'b' },
        { _id: 'conf', _rev: REV_C, _revisions: { start: 2, ids: ['c'.repeat(32), 'a'.repeat(32)] }, side: 'c' },
      ],
      { new_edits: false },
    );
    assert.deepEqual(res, []);
    const doc = await db.get('conf', { conflicts: true });
    assert.equal(doc._rev, REV_C);
    assert.equal(doc.side, 'c');
    assert.deepEqual(doc._conflicts, [REV_B]);
    const leaves = await db.get('conf', { open_revs: 'all' });
    assert.deepEqual(leaves.map((l: any) => l.ok._rev).sort(), [REV_B, REV_C]);
    const found = await db.allDocs({ keys: ['conf'], conflicts: true, include_docs: true });
    assert.deepEqual(found.rows[0].doc._conflicts, [REV_B]);

    const del = await db.remove('conf', REV_B);
    assert.equal(del.ok, true);
    const resolved = await db.get('conf', { conflicts: true });
    assert.equal(resolved._rev, REV_C);
    assert.equal(resolved._conflicts, undefined);
    // PouchDB does not forward deleted_conflicts; ask the server directly.
    const res2 = await fetch(`${server.url}/client/conf?deleted_conflicts=true`);
    assert.deepEqual(((await res2.json()) as { _deleted_conflicts: string[] })._deleted_conflicts, [del.rev]);
  });

  test('changes: since, include_docs, limit, style', async () => {
    const feedDb = new PouchDB(`${server.url}/feed`);
    try {
      await feedDb.bulkDocs([{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }]);
      const all = await feedDb.changes();
      assert.deepEqual(all.results.map((r: any) => r.id), ['a', 'b', 'c']);
      assert.equal(all.last_seq, 3);
      const later = await feedDb.changes({ since: 1, include_docs: true });
      assert.deepEqual(later.results.map((r: any) => r.doc._id), ['b', 'c']);
      const limited = await feedDb.changes({ limit: 2 });
      assert.equal(limited.results.length, 2);
      assert.equal(limited.last_seq, 2);
      const b = await feedDb.get('b');
      await feedDb.remove(b);
      const afterDelete = await feedDb.changes({ since: 3 });
      assert.equal(afterDelete.results.length, 1);
      assert.equal(afterDelete.results[0].id, 'b');
      assert.equal(afterDelete.results[0].deleted, true);
      const byIds = await feedDb.changes({ doc_ids: ['c', 'a'] });
      assert.deepEqual(byIds.results.map((r: any) => r.id).sort(), ['a', 'c']);
    } finally {
      await feedDb.close();
    }
  });

  test('changes live: edits arrive, cancel ends the feed and frees the server side', async () => {
    const live = new PouchDB(`${server.url}/live`);
    try {
      await live.put({ _id: 'before' });
      const seen: string[] = [];
      const feed = live.changes({ live: true, since: 'now', include_docs: true, heartbeat: 1000 });
      feed.on('change', (c: any) => seen.push(c.doc._id));
      const completed = new Promise((resolve) => feed.on('complete', resolve));
      // The feed is attached once the server registered a waiting request.
      await until(() => server.server.context.feeds.size > 0);
      await live.put({ _id: 'x1' });
      await live.bulkDocs([{ _id: 'x2' }, { _id: 'x3' }]);
      await until(() => seen.length >= 3);
      assert.deepEqual(seen, ['x1', 'x2', 'x3']);
      feed.cancel();
      const done: any = await completed;
      assert.equal(done.status, 'cancelled');
      await until(() => server.server.context.feeds.size === 0);
    } finally {
      await live.close();
    }
  });

  test('pouchdb-find: createIndex, find with selector, sort, fields, limit', async () => {
    const people = new PouchDB(`${server.url}/people`);
    try {
      await people.bulkDocs([
        { _id: 'p1', name: 'Ann', age: 31, city: 'Moscow' },
        { _id: 'p2', name: 'Bob', age: 25, city: 'Paris' },
        { _id: 'p3', name: 'Cid', age: 42, city: 'Moscow' },
        { _id: 'p4', name: 'Dee', age: 19, city: 'Oslo' },
      ]);
      const idx = await people.createIndex({ index: { fields: ['age'] } });
      assert.ok(['created', 'exists'].includes(idx.result), JSON.stringify(idx));
      const adults = await people.find({ selector: { age: { $gte: 21 } }, sort: [{ age: 'desc' }], fields: ['name', 'age'], limit: 2 });
      assert.deepEqual(adults.docs, [
        { name: 'Cid', age: 42 },
        { name: 'Ann', age: 31 },
      ]);
      const moscow = await people.find({ selector: { city: 'Moscow' }, fields: ['_id'] });
      assert.deepEqual(moscow.docs.map((d: any) => d._id).sort(), ['p1', 'p3']);
      const indexes = await people.getIndexes();
      assert.ok(indexes.indexes.length >= 1);
      await assert.rejects(people.find({ selector: { age: { $bogus: 1 } } }), (err: any) => err.status === 400);
    } finally {
      await people.close();
    }
  });

  test('info and destroy', async () => {
    const tmp = new PouchDB(`${server.url}/doomed`);
    await tmp.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
    const info = await tmp.info();
    assert.equal(info.db_name, 'doomed');
    assert.equal(info.doc_count, 2);
    assert.equal(info.update_seq, 2);
    const destroyed = await tmp.destroy();
    assert.equal(destroyed.ok, true);
    assert.ok(!(await server.node.allDbs()).includes('doomed'));
    const res = await fetch(`${server.url}/doomed`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });
});
