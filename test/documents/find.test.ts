// Mango find and the path query API over the automatic path index, on both engines.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, freshDb, tempDir } from '../helpers/db.ts';
import { isRefugeError } from '../../src/core.ts';
import { leveldbEngine, openDatabase } from '../../src/index.ts';
import { encodeIndexValue, makeIndexKey, MAX_INDEXED_PATH } from '../../src/query/index.ts';
import { groupTag, valuePrefix } from '../../src/documents/postings.ts';

const PEOPLE = [
  { _id: 'p1', name: 'Ann', age: 31, city: 'Moscow', tags: ['a', 'b'], exports: [{ city: 'Moscow' }, { city: 'Paris' }] },
  { _id: 'p2', name: 'Bob', age: 25, city: 'Paris', tags: ['b'], exports: [{ city: 'Berlin' }] },
  { _id: 'p3', name: 'Cid', age: 42, city: 'Moscow', tags: [], exports: [] },
  { _id: 'p4', name: 'Dee', age: '40', city: null, nested: { deep: { x: 1 } } },
  { _id: 'p5', name: 'Eve', age: 19, active: true },
];

for (const engine of ENGINES) {
  describe(`find on ${engine}`, () => {
    test('path query: exports/[]/city = Moscow, ranges, order, limit/skip, includeDocs', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.bulkDocs(PEOPLE);
      const rows = async (q: Parameters<typeof db.query>[0]) => {
        const out = [];
        for await (const r of db.query(q)) out.push(r);
        return out;
      };
      assert.deepEqual((await rows({ path: 'exports/[]/city', eq: 'Moscow' })).map((r) => r.id), ['p1']);
      assert.deepEqual(
        (await rows({ path: 'age', gte: 20, lt: 40 })).map((r) => [r.id, r.value]),
        [['p2', 25], ['p1', 31]],
      );
      // Numbers sort before strings, as CouchDB collates.
      assert.deepEqual((await rows({ path: 'age', descending: true })).map((r) => r.value), ['40', 42, 31, 25, 19]);
      assert.deepEqual((await rows({ path: 'age', skip: 1, limit: 2 })).map((r) => r.value), [25, 31]);
      const withDocs = await rows({ path: 'city', eq: 'Paris', includeDocs: true });
      assert.equal(withDocs[0]!.doc!.name, 'Bob');
      assert.deepEqual((await rows({ path: 'nested/deep/x', eq: 1 })).map((r) => r.id), ['p4']);
      assert.deepEqual((await rows({ path: 'city', eq: null })).map((r) => r.id), ['p4']);
      // Updates move entries; deletes remove them.
      const p2 = await db.get('p2');
      await db.put({ ...p2, city: 'Rome' });
      await db.remove('p1', (await db.get('p1'))._rev!);
      assert.deepEqual(await rows({ path: 'city', eq: 'Paris' }), []);
      assert.deepEqual((await rows({ path: 'exports/[]/city', eq: 'Moscow' })).map((r) => r.id), []);
      assert.deepEqual((await rows({ path: 'city', eq: 'Rome' })).map((r) => r.id), ['p2']);
      assert.throws(() => db.query({ path: '' }), (e: unknown) => isRefugeError(e, 'bad_request'));
      // A path longer than the index holds is refused here; find() answers it by scanning.
      const long = 'k'.repeat(MAX_INDEXED_PATH);
      assert.throws(() => db.query({ path: `n/${long}`, eq: 1 }), (e: unknown) => isRefugeError(e, 'bad_request') && /up to 256 characters/.test(e.reason));
      await db.put({ _id: 'long', n: { [long]: 1 } });
      const byScan = { selector: { [`n.${long}`]: 1 } };
      assert.deepEqual((await db.find(byScan)).docs.map((d) => d._id), ['long']);
      assert.equal((await db.explain(byScan)).index.name, '_all_docs');
      // Its parent path is short: the index answers that part.
      const both = { selector: { n: { $exists: true }, [`n.${long}`]: 1 } };
      assert.deepEqual((await db.find(both)).docs.map((d) => d._id), ['long']);
      assert.equal((await db.explain(both)).index.name, '_path_index');
      // Bounds the index cannot hold are refused when the query is made, not at its first row.
      for (const bound of [-Infinity, Number.NaN, 10n, () => 1, { a: 1 }]) {
        assert.throws(() => db.query({ path: 'age', gte: bound }), (e: unknown) => isRefugeError(e, 'bad_request'), String(bound));
      }
    });

    test('an $in read pages on with its bookmark whichever read it began with, though the count of documents moved since', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const make = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ _id: `d${String(from + i).padStart(5, '0')}`, n: from + i }));
      await db.bulkDocs(make(0, 2000));
      const q = { selector: { n: { $in: Array.from({ length: 100 }, (_, i) => i) } }, limit: 5 };
      const ids = (r: { docs: Array<{ _id?: string }> }) => r.docs.map((d) => d._id);
      // Begun through the index (100 values, 2,000 documents); the count then falls under the threshold.
      const first = await db.find(q);
      assert.deepEqual(ids(first), ['d00000', 'd00001', 'd00002', 'd00003', 'd00004']);
      const removed = await db.allDocs({ startkey: 'd01000', endkey: 'd01999' });
      await db.bulkDocs(removed.rows.map((r) => ({ _id: r.id, _rev: r.value!.rev, _deleted: true })));
      assert.equal((await db.explain(q)).index.name, '_all_docs');
      assert.deepEqual(ids(await db.find({ ...q, bookmark: first.bookmark })), ['d00005', 'd00006', 'd00007', 'd00008', 'd00009']);
      // Begun by a scan (1,000 documents); the count then rises over it.
      const scanned = await db.find(q);
      await db.bulkDocs(make(5000, 2000));
      assert.equal((await db.explain(q)).index.name, '_path_index');
      assert.deepEqual(ids(await db.find({ ...q, bookmark: scanned.bookmark })), ['d00005', 'd00006', 'd00007', 'd00008', 'd00009']);
    });

    test('Mango find: operators, sort, fields, limit/skip/bookmark, explain', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.bulkDocs(PEOPLE);
      const ids = async (req: Parameters<typeof db.find>[0]) => (await db.find(req)).docs.map((d) => d._id);
      assert.deepEqual(await ids({ selector: { city: 'Moscow' } }), ['p1', 'p3']);
      assert.deepEqual(await ids({ selector: { age: { $gt: 20, $lt: 40 } }, sort: [{ age: 'asc' }] }), ['p2', 'p1']);
      assert.deepEqual(await ids({ selector: { age: { $type: 'number' } }, sort: [{ age: 'desc' }] }), ['p3', 'p1', 'p2', 'p5']);
      // A name that is no JSON type is taken, as CouchDB takes it, and nothing has that type.
      assert.deepEqual(await ids({ selector: { age: { $type: 'int' } } }), []);
      assert.deepEqual(await ids({ selector: { age: { $not: { $type: 'int' } } }, sort: [{ age: 'desc' }] }), ['p4', 'p3', 'p1', 'p2', 'p5']);
      assert.deepEqual(await ids({ selector: { $or: [{ age: { $type: 'int' } }, { city: 'Moscow' }] } }), ['p1', 'p3']);
      assert.deepEqual(await ids({ selector: { exports: { $elemMatch: { city: { $type: 'text' } } } } }), []);
      assert.deepEqual(await ids({ selector: { tags: { $all: ['b'] } } }), ['p1', 'p2']);
      assert.deepEqual(await ids({ selector: { tags: { $size: 0 } } }), ['p3']);
      assert.deepEqual(await ids({ selector: { exports: { $elemMatch: { city: 'Berlin' } } } }), ['p2']);
      assert.deepEqual(await ids({ selector: { $or: [{ name: 'Ann' }, { active: true }] } }), ['p1', 'p5']);
      assert.deepEqual(await ids({ selector: { name: { $regex: '^[AB]' } } }), ['p1', 'p2']);
      // CouchDB 3.4's $beginsWith: case-sensitive, strings only, a range of the path index.
      assert.deepEqual(await ids({ selector: { name: { $beginsWith: 'A' } } }), ['p1']);
      assert.deepEqual(await ids({ selector: { name: { $beginsWith: 'a' } } }), []);
      assert.deepEqual(await ids({ selector: { name: { $not: { $beginsWith: 'A' } } } }), ['p2', 'p3', 'p4', 'p5']);
      assert.equal((await db.explain({ selector: { name: { $beginsWith: 'A' } } })).index.name, '_path_index');
      await assert.rejects(db.find({ selector: { name: { $beginsWith: 1 } } }), (e: unknown) => isRefugeError(e, 'invalid_operator'));
      assert.deepEqual(await ids({ selector: { 'nested.deep.x': 1 } }), ['p4']);
      assert.deepEqual(await ids({ selector: { name: { $in: ['Eve', 'Cid'] } } }), ['p3', 'p5']);
      assert.deepEqual(await ids({ selector: { city: { $exists: false } } }), ['p5']);
      const projected = await db.find({ selector: { _id: 'p2' }, fields: ['name'] });
      assert.deepEqual(projected.docs, [{ name: 'Bob' }]);
      const page1 = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 2 });
      assert.deepEqual(page1.docs.map((d) => d.name), ['Ann', 'Bob']);
      const page2 = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 2, bookmark: page1.bookmark });
      assert.deepEqual(page2.docs.map((d) => d.name), ['Cid', 'Dee']);
      const ex = await db.explain({ selector: { city: 'Moscow', age: { $gt: 1 } } });
      assert.equal(ex.index.name, '_path_index');
      assert.match(ex.reason, /eq on city/);
      // An $in of more values than a sixteenth of the documents (and 64) reads them all instead of
      // looking each value up; the same answer either way. allow_fallback: false keeps the index.
      const many = { selector: { name: { $in: ['Eve', 'Cid', ...Array.from({ length: 100 }, (_, i) => `nobody${i}`)] } } };
      assert.equal((await db.explain(many)).index.name, '_all_docs');
      assert.match((await db.explain(many)).reason, /102 values to look up on name/);
      assert.deepEqual(await ids(many), ['p3', 'p5']);
      assert.equal((await db.explain({ ...many, allowFallback: false })).index.name, '_path_index');
      assert.equal((await db.explain({ selector: { name: { $in: ['Eve', 'Cid'] } } })).index.name, '_path_index');
      const full = await db.explain({ selector: { $or: [{ a: 1 }, { b: 2 }] } });
      assert.equal(full.index.name, '_all_docs');
      const stats = await db.find({ selector: { city: 'Moscow' }, executionStats: true });
      assert.equal(stats.executionStats!.totalDocsExamined, 2);
      await assert.rejects(db.find({ selector: { a: { $bogus: 1 } } }), (e: unknown) => isRefugeError(e, 'invalid_operator'));
      await assert.rejects(db.find({} as never), (e: unknown) => isRefugeError(e, 'missing_required_key'));
      // Design documents are never answered, whichever way the query runs.
      await db.put({ _id: '_design/x', name: 'Ann', city: 'Moscow' });
      assert.deepEqual(await ids({ selector: {} }), ['p1', 'p2', 'p3', 'p4', 'p5']);
      assert.deepEqual(await ids({ selector: { name: 'Ann' } }), ['p1']);
      assert.deepEqual(await ids({ selector: { _id: { $gt: null } } }), ['p1', 'p2', 'p3', 'p4', 'p5']);
    });

    test('bookmarks page after the last row given: writes and deletes before it since shift nothing', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.bulkDocs(Array.from({ length: 10 }, (_, i) => ({ _id: `p${10 + i}`, age: 10 + i })));
      for (const sort of [[{ age: 'asc' }], []] as const) {
        const q = { selector: { age: { $gte: 10 } }, sort: [...sort], limit: 3, fields: ['_id'] };
        const first = await db.find(q);
        assert.deepEqual(first.docs.map((d) => d._id), ['p10', 'p11', 'p12']);
        // Two new rows before the page's end, one deleted before it.
        await db.bulkDocs([{ _id: `n${sort.length}a`, age: 10.5 }, { _id: `n${sort.length}b`, age: 11.5 }]);
        await db.remove('p11', (await db.get('p11'))._rev!);
        const second = await db.find({ ...q, bookmark: first.bookmark });
        assert.deepEqual(second.docs.map((d) => d._id), ['p13', 'p14', 'p15'], JSON.stringify(sort));
        const third = await db.find({ ...q, bookmark: second.bookmark });
        assert.deepEqual(third.docs.map((d) => d._id), ['p16', 'p17', 'p18']);
        await db.put({ _id: 'p11', age: 11 });
        await db.bulkDocs([{ _id: `n${sort.length}a`, _rev: (await db.get(`n${sort.length}a`))._rev, _deleted: true }, { _id: `n${sort.length}b`, _rev: (await db.get(`n${sort.length}b`))._rev, _deleted: true }]);
      }
      // A bookmark of an earlier version (an offset alone) still pages by offset.
      const old = await db.find({ selector: { age: { $gte: 10 } }, sort: [{ age: 'asc' }], limit: 2, bookmark: btoa(JSON.stringify({ o: 2 })) });
      assert.deepEqual(old.docs.map((d) => d._id), ['p12', 'p13']);
    });

    test('bookmarks keep the last row\'s place: with each page deleted, or its last row gone from the answer, none is skipped', async (t) => {
      const docs = Array.from({ length: 12 }, (_, i) => ({ _id: `q${String(i).padStart(2, '0')}`, age: 10 + (i % 6), name: `n${11 - i}`, tags: ['x', 'y'] }));
      const queries = {
        'path index, no sort': { selector: { age: { $gte: 10 } } },
        'path index order, desc': { selector: { age: { $gte: 10 } }, sort: [{ age: 'desc' }] },
        'sorted in memory': { selector: { age: { $gte: 10 } }, sort: ['name'] },
        'all documents': { selector: { $or: [{ age: { $gte: 10 } }, { zz: 1 }] } },
        'array path, each document once': { selector: { tags: { $in: ['x', 'y'] } } },
      };
      for (const [what, q] of Object.entries(queries)) {
        const { db, cleanup } = await freshDb(engine);
        t.after(cleanup);
        await db.bulkDocs(docs);
        const whole = (await db.find({ ...q, limit: 100 })).docs.map((d) => d._id);
        assert.equal(whole.length, 12, what);
        // Each page is read, then deleted, except the second's last row: it leaves the answer.
        const seen: string[] = [];
        let bookmark: string | undefined;
        for (let page = 0; page < 10; page++) {
          const got = await db.find({ ...q, limit: 3, ...(bookmark && { bookmark }) });
          if (got.docs.length === 0) break;
          seen.push(...got.docs.map((d) => d._id!));
          bookmark = got.bookmark;
          await db.bulkDocs(got.docs.map((d, i) => (page === 1 && i === 2 ? { ...d, age: 5, tags: ['z'] } : { _id: d._id, _rev: d._rev, _deleted: true })));
        }
        assert.deepEqual(seen, whole, what);
      }
    });

    test('a bookmark of another kind of query is refused; a page past the end keeps its bookmark', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.bulkDocs(PEOPLE);
      const sorted = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 2 });
      const unsorted = await db.find({ selector: { name: { $gt: null } }, limit: 2 });
      await assert.rejects(db.find({ selector: { name: { $gt: null } }, limit: 2, bookmark: sorted.bookmark }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'));
      await assert.rejects(db.find({ selector: { name: { $gt: null } }, sort: ['name'], bookmark: unsorted.bookmark }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'));
      await assert.rejects(db.find({ selector: {}, sort: ['name', 'age'], bookmark: sorted.bookmark }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'));
      // A full scan's place is not the path index's.
      const scanned = await db.find({ selector: { $or: [{ name: { $gt: null } }, { zz: 1 }] }, limit: 2 });
      await assert.rejects(db.find({ selector: { name: { $gt: null } }, limit: 2, bookmark: scanned.bookmark }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'));
      // Sort values nested past any document's depth are refused, not walked (they would overflow the stack).
      const deep = btoa(`{"s":{"values":[[${'['.repeat(5000)}${']'.repeat(5000)}]],"id":"x"}}`);
      for (const sort of [undefined, ['name']]) {
        await assert.rejects(db.find({ selector: {}, ...(sort && { sort }), bookmark: deep }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'));
      }
      for (const bad of ['%%%', btoa('[1]'), btoa('{"s":{"values":[1],"id":"x"}}'), btoa('{"i":[0,"a"]}'), 7]) {
        await assert.rejects(db.find({ selector: {}, bookmark: bad as string }), (e: unknown) => isRefugeError(e, 'invalid_bookmark'), String(bad));
      }
      const end = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 10, bookmark: sorted.bookmark });
      assert.deepEqual(end.docs.map((d) => d.name), ['Cid', 'Dee', 'Eve']);
      const past = await db.find({ selector: { name: { $gt: null } }, sort: ['name'], limit: 10, bookmark: end.bookmark });
      assert.deepEqual(past.docs, []);
      assert.equal(past.bookmark, end.bookmark);
      // Sort values and ids in any script survive the bookmark.
      await db.bulkDocs([{ _id: 'ü1', name: 'Zoë 🌍' }, { _id: 'ü2', name: 'Zoë 🌍' }]);
      const a = await db.find({ selector: { name: { $gt: 'Z' } }, sort: ['name'], limit: 1 });
      const b = await db.find({ selector: { name: { $gt: 'Z' } }, sort: ['name'], limit: 1, bookmark: a.bookmark });
      assert.deepEqual([...a.docs, ...b.docs].map((d) => d._id), ['ü1', 'ü2']);
    });

    test('autoIndex off: find still exact by full scan; turning it on rebuilds the index', async (t) => {
      const { db, dataDir, cleanup } = await freshDb(engine, { autoIndex: false });
      t.after(cleanup);
      await db.bulkDocs(PEOPLE);
      assert.deepEqual((await db.find({ selector: { city: 'Moscow' } })).docs.map((d) => d._id), ['p1', 'p3']);
      assert.equal((await db.explain({ selector: { city: 'Moscow' } })).index.name, '_all_docs');
      assert.throws(() => db.query({ path: 'city' }));
      await db.setAutoIndex(true);
      const out = [];
      for await (const r of db.query({ path: 'city', eq: 'Moscow' })) out.push(r.id);
      assert.deepEqual(out, ['p1', 'p3']);
      void dataDir;
    });
  });
}

describe('path index rebuild', () => {
  const ids = async (db: Awaited<ReturnType<typeof openDatabase>>, q: { path: string; eq: unknown }) => {
    const out = [];
    for await (const r of db.query(q)) out.push(r.id);
    return out;
  };

  /**
   * PEOPLE stored without an index, then the stored state rewritten by `state` and `keys` added
   * behind the database's back (what a crash or an older version leaves); opened again.
   */
  async function reopenAltered(
    t: { after: (fn: () => unknown) => void },
    state: (stored: Record<string, unknown>) => Record<string, unknown>,
    keys: Array<[string, string]>,
  ) {
    const dir = await tempDir();
    t.after(dir.cleanup);
    const first = await openDatabase('people', { engine: 'leveldb', dataDir: dir.path, design: false, autoIndex: false });
    await first.bulkDocs(PEOPLE);
    await first.close();
    const store = await leveldbEngine().open({ location: `${dir.path}/people` });
    const stored = JSON.parse((await store.get('m!info'))!);
    await store.batch([
      { type: 'put', key: 'm!info', value: JSON.stringify(state(stored)) },
      ...keys.map(([key, value]) => ({ type: 'put' as const, key, value })),
    ]);
    await store.close();
    const db = await openDatabase('people', { engine: 'leveldb', dataDir: dir.path, design: false });
    t.after(() => db.close());
    return db;
  }

  test('a rebuild cut short (the state a crash leaves) is done again when the database opens', async (t) => {
    // What setAutoIndex(true) has stored when it is killed after its first step: the index on but
    // not ready, and only part of the entries written (here one, for p1).
    const db = await reopenAltered(t, (s) => ({ ...s, autoIndex: true, pathIndexReady: false }), [
      [valuePrefix('city', encodeIndexValue('Moscow')) + groupTag(1), '+p1'],
    ]);
    assert.deepEqual(await ids(db, { path: 'city', eq: 'Moscow' }), ['p1', 'p3']);
    assert.deepEqual(await ids(db, { path: 'exports/[]/city', eq: 'Paris' }), ['p1']);
    assert.equal((await db.explain({ selector: { city: 'Moscow' } })).index.name, '_path_index');
  });

  test('an index stored in the older layout (one key per entry) is rebuilt when the database opens', async (t) => {
    // What an older version left: its state without a layout, and its keys `i!<path>\0<value>\0<id>`.
    const db = await reopenAltered(t, ({ indexLayout: _, ...s }) => ({ ...s, autoIndex: true, pathIndexReady: true }), [
      ['i!' + makeIndexKey('city', encodeIndexValue('Moscow'), 'p1'), ''],
      ['i!' + makeIndexKey('city', encodeIndexValue('Moscow'), 'p3'), ''],
    ]);
    assert.deepEqual(await ids(db, { path: 'city', eq: 'Moscow' }), ['p1', 'p3']);
    assert.deepEqual(await ids(db, { path: 'tags/[]', eq: 'b' }), ['p1', 'p2']);
    assert.deepEqual((await db.find({ selector: { age: { $gt: 30, $lt: 100 } } })).docs.map((d) => d._id), ['p1', 'p3']);
  });

  for (const engine of ENGINES) {
    test(`on ${engine}: while the index is rebuilt, find scans documents and stays exact`, async (t) => {
      const { db, cleanup } = await freshDb(engine, { autoIndex: false });
      t.after(cleanup);
      // Enough documents for the rebuild to take several writer jobs, with finds in between.
      const docs = Array.from({ length: 3000 }, (_, i) => ({ _id: `d${String(i).padStart(5, '0')}`, group: i % 3 }));
      await db.bulkDocs(docs);
      let building = true;
      const rebuild = db.setAutoIndex(true).finally(() => (building = false));
      let during = 0;
      while (building) {
        const found = await db.find({ selector: { group: 1 }, fields: ['_id'], limit: 5000 });
        assert.equal(found.docs.length, 1000);
        if (building) during++;
      }
      await rebuild;
      assert.ok(during > 0, 'some finds ran while the index was rebuilt');
      assert.equal((await db.find({ selector: { group: 1 }, limit: 5000 })).docs.length, 1000);
      assert.equal((await db.explain({ selector: { group: 1 } })).index.name, '_path_index');
    });
  }
});
