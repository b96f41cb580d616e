// ViewIndexes over a real database: incremental updates and deletes through the changes feed, the
// update modes, signatures (what rebuilds and what does not), `_info`, cleanup, and a restart on
// LevelDB that reuses the index without mapping old documents again.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/index.ts';
import { parseViewRequest, storedSignatures, ViewIndexes, type MapResult, type ViewIndexesOptions } from '../../src/views/index.ts';
import type { Database } from '../../src/core.ts';
import { tempDir } from '../helpers/db.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import { createCountingSandbox, type CountingSandbox } from './counting-sandbox.ts';

const DDOC = {
  _id: '_design/app',
  views: {
    by_type: { map: 'function(doc){ if (doc.type) emit(doc.type, doc.n) }', reduce: '_sum' },
    ids: { map: 'function(doc){ emit(doc._id, null) }' },
  },
};

async function setup(dir: string): Promise<{ db: Database; views: ViewIndexes; sandboxes: CountingSandbox[]; close: () => Promise<void> }> {
  const db = await openDatabase('vdb', { engine: 'leveldb', dataDir: dir, durability: 'fast', design: false });
  const sandboxes: CountingSandbox[] = [];
  const options: ViewIndexesOptions = {
    db,
    store: db.core.store,
    sandbox: async (ddoc) => {
      const s = await createCountingSandbox(ddoc);
      sandboxes.push(s);
      return s;
    },
  };
  const views = new ViewIndexes(options);
  return {
    db,
    views,
    sandboxes,
    close: async () => {
      await views.close();
      await db.close();
    },
  };
}

const ids = (r: unknown) => (r as MapResult).rows.map((row) => row.id);
const mapped = (s: CountingSandbox[]) => s.reduce((n, x) => n + x.mapped, 0);

describe('ViewIndexes', () => {
  test('incremental updates and deletes, update modes, include_docs from the database', async (t) => {
    const dir = await tempDir();
    const { db, views, sandboxes, close } = await setup(dir.path);
    t.after(async () => {
      await close();
      await dir.cleanup();
    });
    await db.put(DDOC);
    const a = await db.put({ _id: 'a', type: 'x', n: 1 });
    await db.put({ _id: 'b', type: 'y', n: 2 });
    assert.deepEqual((await views.query('_design/app', 'by_type', {})).rows, [{ key: null, value: 3 }]);
    assert.deepEqual(ids(await views.query('_design/app', 'ids', {})), ['_design/app', 'a', 'b'].filter((i) => !i.startsWith('_design')));
    assert.equal(mapped(sandboxes), 4); // two docs, two views; the design document is not mapped

    await db.put({ _id: 'a', _rev: a.rev, type: 'y', n: 10 });
    await db.put({ _id: 'c', type: 'x', n: 5 });
    // 'false' reads the index as it is.
    assert.deepEqual((await views.query('_design/app', 'by_type', { group: true }, 'false')).rows, [
      { key: 'x', value: 1 },
      { key: 'y', value: 2 },
    ]);
    // 'lazy' also reads it as it is, then catches up in the background.
    assert.deepEqual((await views.query('_design/app', 'by_type', {}, 'lazy')).rows, [{ key: null, value: 3 }]);
    await views.group('_design/app'); // joins the catch-up in flight
    assert.deepEqual((await views.query('_design/app', 'by_type', { group: true }, 'false')).rows, [
      { key: 'x', value: 5 },
      { key: 'y', value: 12 },
    ]);
    await db.remove('c', (await db.get('c'))._rev!);
    const r = (await views.query('_design/app', 'ids', { includeDocs: true, updateSeq: true })) as MapResult;
    assert.deepEqual(
      r.rows.map((row) => [row.id, (row.doc as { n?: number } | null)?.n]),
      [
        ['a', 10],
        ['b', 2],
      ],
    );
    assert.equal(r.update_seq, (await db.info()).updateSeq);
    assert.equal(r.total_rows, 2);
  });

  test('signature: editing a view rebuilds, editing anything else does not; _info; cleanup', async (t) => {
    const dir = await tempDir();
    const { db, views, sandboxes, close } = await setup(dir.path);
    t.after(async () => {
      await close();
      await dir.cleanup();
    });
    const d1 = await db.put(DDOC);
    await db.bulkDocs([{ _id: 'a', type: 'x', n: 1 }, { _id: 'b', type: 'x', n: 2 }]);
    await views.query('_design/app', 'ids', {});
    const info1 = await views.info('_design/app');
    assert.equal(info1.name, 'app');
    assert.match(info1.view_index.signature, /^[0-9a-f]{32}$/);
    assert.equal(info1.view_index.update_seq, (await db.info()).updateSeq);
    assert.equal(info1.view_index.updater_running, false);
    assert.equal(info1.view_index.language, 'javascript');

    const d2 = await db.put({ ...DDOC, _rev: d1.rev, description: 'unrelated edit' });
    const before = mapped(sandboxes);
    await views.query('_design/app', 'ids', {});
    assert.equal((await views.info('_design/app')).view_index.signature, info1.view_index.signature);
    assert.equal(mapped(sandboxes), before, 'no document mapped again');

    await db.put({ ...DDOC, _rev: d2.rev, views: { ...DDOC.views, ids: { map: 'function(doc){ emit([doc._id], 1) }' } } });
    assert.deepEqual((await views.query('_design/app', 'ids', {}) as MapResult).rows.map((r) => r.key), [['a'], ['b']]);
    const sig2 = (await views.info('_design/app')).view_index.signature;
    assert.notEqual(sig2, info1.view_index.signature);
    assert.deepEqual((await storedSignatures(db.core.store, 'v!')).sort(), [info1.view_index.signature, sig2].sort());
    const { removed } = await views.cleanup();
    assert.deepEqual(removed, [info1.view_index.signature]);
    assert.deepEqual(await storedSignatures(db.core.store, 'v!'), [sig2]);
    assert.equal((await views.query('_design/app', 'ids', {}) as MapResult).rows.length, 2);
  });

  test('a query under way keeps its group when the design document is edited meanwhile (it used to fail: closed)', async (t) => {
    const dir = await tempDir();
    const db = await openDatabase('vdb', { engine: 'leveldb', dataDir: dir.path, durability: 'fast', design: false });
    // A map call waits until released: the query is under way while the edit lands.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let mapping!: () => void;
    const mappingStarted = new Promise<void>((resolve) => (mapping = resolve));
    let calls = 0;
    const views = new ViewIndexes({
      db,
      store: db.core.store,
      sandbox: async (ddoc) => {
        const real = await createCountingSandbox(ddoc);
        // Two views, 500 documents a call: the fifth maps the second batch of changes, the first one's rows stored.
        const gate = async () => {
          if (++calls === 5) {
            mapping();
            await released;
          }
        };
        return {
          ...real,
          map: async (fn, docs) => (await gate(), real.map(fn, docs)),
          mapAsync: async (fn, docs) => (await gate(), real.mapAsync!(fn, docs)),
        };
      },
    });
    t.after(async () => {
      await views.close();
      await db.close();
      await dir.cleanup();
    });
    const first = await db.put(DDOC);
    // More than one map batch (500): the cleanup below lands between two of them.
    const ids = Array.from({ length: 1200 }, (_, i) => `d${String(i).padStart(4, '0')}`);
    await db.bulkDocs(ids.map((id) => ({ _id: id, type: 'x', n: 1 })));
    const underWay = views.query('_design/app', 'ids', {});
    await mappingStarted;
    await db.put({ ...DDOC, _rev: first.rev, views: { ...DDOC.views, ids: { map: 'function(doc){ emit([doc._id], 1) }' } } });
    // Another call reads the edited design document: the old group is retired, not closed under the query.
    const info = await views.info('_design/app');
    // A cleanup meanwhile keeps the rows the query is reading...
    assert.deepEqual((await views.cleanup()).removed, []);
    release();
    assert.deepEqual(((await underWay) as MapResult).rows.map((r) => r.key), ids);
    assert.notEqual(info.view_index.signature, undefined);
    assert.deepEqual(((await views.query('_design/app', 'ids', {})) as MapResult).rows.map((r) => r.key), ids.map((id) => [id]));
    // ...and the next one, once the query is done, removes them.
    assert.equal((await views.cleanup()).removed.length, 1);
    assert.deepEqual(await storedSignatures(db.core.store, 'v!'), [info.view_index.signature]);
  });

  test('a view ahead of its database (its storage lost writes the view had read) is rebuilt when queried', async (t) => {
    const dir = await tempDir();
    const open = (name: string) => openDatabase(name, { engine: 'leveldb', dataDir: dir.path, durability: 'fast', design: false });
    const before = await open('before');
    const after = await open('after');
    const store = await leveldbEngine().open({ location: `${dir.path}/idx` });
    t.after(async () => {
      await before.close();
      await after.close();
      await store.close();
      await dir.cleanup();
    });
    // One index store read `before` further than `after` (what survived) ever went.
    await before.put(DDOC);
    await before.bulkDocs(['a', 'b', 'c', 'd', 'e'].map((id) => ({ _id: id, type: 'x', n: 1 })));
    const first = new ViewIndexes({ db: before, store });
    assert.equal(((await first.query('_design/app', 'ids', {})) as MapResult).rows.length, 5);
    await first.close();
    await after.put(DDOC);
    await after.put({ _id: 'a', type: 'x', n: 1 });
    const second = new ViewIndexes({ db: after, store });
    t.after(() => second.close());
    assert.deepEqual(((await second.query('_design/app', 'ids', {})) as MapResult).rows.map((r) => r.id), ['a']);
    await after.bulkDocs([{ _id: 'n1' }, { _id: 'n2' }]);
    assert.deepEqual(((await second.query('_design/app', 'ids', {})) as MapResult).rows.map((r) => r.id), ['a', 'n1', 'n2']);
  });

  test('survives a restart on LevelDB without mapping old documents again', async (t) => {
    const dir = await tempDir();
    t.after(() => dir.cleanup());
    {
      const { db, views, close } = await setup(dir.path);
      await db.put(DDOC);
      await db.bulkDocs(Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, type: i % 2 ? 'odd' : 'even', n: i })));
      assert.deepEqual((await views.query('_design/app', 'by_type', { group: true })).rows, [
        { key: 'even', value: 22350 },
        { key: 'odd', value: 22500 },
      ]);
      await close();
    }
    const { db, views, sandboxes, close } = await setup(dir.path);
    t.after(close);
    assert.deepEqual((await views.query('_design/app', 'by_type', { group: true })).rows, [
      { key: 'even', value: 22350 },
      { key: 'odd', value: 22500 },
    ]);
    const r = (await views.query('_design/app', 'ids', { startkey: 'd10', limit: 2 })) as MapResult;
    assert.deepEqual(r.rows.map((x) => x.id), ['d10', 'd100']);
    assert.equal(r.total_rows, 300);
    assert.equal(r.offset, 2);
    assert.equal(mapped(sandboxes), 0, 'nothing mapped after the restart');
    await db.put({ _id: 'new', type: 'odd', n: 1 });
    assert.deepEqual((await views.query('_design/app', 'by_type', { key: 'odd' })).rows, [{ key: null, value: 22501 }]);
    assert.equal(mapped(sandboxes), 2, 'only the new document mapped (once per view)');
  });

  test('HTTP-shaped requests: parseViewRequest then query or queryMany', async (t) => {
    const dir = await tempDir();
    const { db, views, close } = await setup(dir.path);
    t.after(async () => {
      await close();
      await dir.cleanup();
    });
    await db.put(DDOC);
    await db.bulkDocs([{ _id: 'a', type: 'x', n: 1 }, { _id: 'b', type: 'y', n: 2 }, { _id: 'c', type: 'x', n: 3 }]);
    const one = parseViewRequest(new URLSearchParams('key=%22x%22&group=true'));
    assert.ok('options' in one);
    assert.deepEqual((await views.query('_design/app', 'by_type', one.options)).rows, [{ key: 'x', value: 4 }]);
    const many = parseViewRequest(new URLSearchParams('reduce=false'), { queries: [{ keys: ['y'] }, { startkey: 'x', limit: 1, skip: 1 }] });
    assert.ok('queries' in many);
    const res = await views.queryMany('_design/app', 'by_type', many.queries);
    assert.deepEqual(
      res.results.map((r) => (r as MapResult).rows.map((row) => row.id)),
      [['b'], ['c']],
    );
  });

  test('a missing design document or view is not_found; a bad one invalid_design_doc', async (t) => {
    const dir = await tempDir();
    const { db, views, close } = await setup(dir.path);
    t.after(async () => {
      await close();
      await dir.cleanup();
    });
    await assert.rejects(views.query('_design/none', 'v', {}), (e: { code?: string }) => e.code === 'not_found');
    await db.put(DDOC);
    await assert.rejects(views.query('_design/app', 'nope', {}), (e: { reason?: string }) => e.reason === 'missing_named_view');
    await db.put({ _id: '_design/bad', views: { v: { reduce: '_sum' } } });
    await assert.rejects(views.query('_design/bad', 'v', {}), (e: { code?: string; reason?: string }) => e.code === 'invalid_design_doc' && e.reason === 'View `v` must contain map function');
    await db.put({ _id: '_design/broken', views: { v: { map: 'function(doc){ emit(' } } });
    await assert.rejects(views.query('_design/broken', 'v', {}), (e: { code?: string; reason?: string }) => e.code === 'compilation_error' && /^Compilation of the map function in the 'v' view failed: /.test(e.reason ?? ''));
  });
});
