// One suite every Indexer passes (views, Mango json indexes, full-text search): starts empty, catches
// up from the changes feed, re-applying is harmless, deletions and updates replace what was indexed,
// and a reopened index remembers its sequence and its rows without a rebuild.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database } from '../../src/index.ts';
import { IndexFeeder, type Indexer, type IndexerChange } from '../../src/indexers/index.ts';
import { ViewIndexes } from '../../src/views/index.ts';
import { SearchIndexes } from '../../src/search/index.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import type { KvStore } from '../../src/storage/index.ts';
import { tempDir } from '../helpers/db.ts';

interface Opened {
  indexer: Indexer;
  /** The ids the index holds now, sorted, read without catching up. */
  probe(): Promise<string[]>;
  close(): Promise<void>;
}

interface Implementation {
  name: string;
  ddoc: Record<string, unknown>;
  open(db: Database, store: KvStore): Promise<Opened>;
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'view (JavaScript map)',
    ddoc: { _id: '_design/c', views: { all: { map: 'function (doc) { if (doc.text) emit(doc._id, null); }' } } },
    async open(db, store) {
      const views = new ViewIndexes({ db, store });
      const indexer = await views.group('_design/c', 'false');
      return {
        indexer,
        probe: async () => ((await views.query('_design/c', 'all', {}, 'false')) as { rows: Array<{ id: string }> }).rows.map((r) => r.id).sort(),
        close: () => views.close(),
      };
    },
  },
  {
    name: 'Mango json index',
    ddoc: { _id: '_design/c', language: 'query', views: { byN: { map: { fields: { n: 'asc' } }, reduce: '_count', options: { def: { fields: ['n'] } } } } },
    async open(db, store) {
      const views = new ViewIndexes({ db, store });
      const indexer = await views.group('_design/c', 'false');
      return {
        indexer,
        probe: async () => ((await views.query('_design/c', 'byN', { reduce: false }, 'false')) as { rows: Array<{ id: string }> }).rows.map((r) => r.id).sort(),
        close: () => views.close(),
      };
    },
  },
  {
    name: 'full-text search',
    ddoc: { _id: '_design/c', indexes: { text: { fields: ['text'] } } },
    async open(db, store) {
      const search = new SearchIndexes({ db, store, createSandbox: false });
      const { index } = await search.index('c', 'text');
      return {
        indexer: index,
        probe: async () => (await search.query('c', 'text', { q: 'text:*', limit: 200 }, { update: 'false' })).rows.map((r) => r.id).sort(),
        close: () => search.close(),
      };
    },
  },
];

const changesSince = async (db: Database, since: number): Promise<{ batch: IndexerChange[]; upTo: number }> => {
  const { results, lastSeq } = await db.changes({ since, includeDocs: true });
  return { batch: results.map((r) => ({ seq: r.seq, id: r.id, deleted: r.deleted === true, ...(r.deleted ? {} : { doc: r.doc! }) })), upTo: lastSeq };
};

for (const impl of IMPLEMENTATIONS) {
  describe(`Indexer conformance: ${impl.name}`, () => {
    test('empty, catch-up, idempotent re-apply, deletes and updates, reopen without rebuild', async (t) => {
      const dir = await tempDir();
      const db = await openDatabase('conf', { engine: 'leveldb', dataDir: dir.path, durability: 'fast', design: false });
      const engine = leveldbEngine();
      let store = await engine.open({ location: `${dir.path}/idx` });
      t.after(async () => {
        await db.close();
        await store.close().catch(() => undefined);
        await dir.cleanup();
      });
      await db.put(impl.ddoc);
      let opened = await impl.open(db, store);
      assert.equal(await opened.indexer.indexedSeq(), 0);
      assert.deepEqual(await opened.probe(), []);

      await db.bulkDocs([
        { _id: 'd1', n: 1, text: 'alpha text' },
        { _id: 'd2', n: 2, text: 'beta text' },
        { _id: 'd3', n: 3, text: 'gamma text' },
      ]);
      const feeder = () => new IndexFeeder(db, opened.indexer);
      const seq = await feeder().catchUp();
      assert.equal(seq, (await db.info()).updateSeq);
      assert.equal(await opened.indexer.indexedSeq(), seq);
      assert.deepEqual(await opened.probe(), ['d1', 'd2', 'd3']);

      // Applying the same changes again changes nothing.
      const again = await changesSince(db, 0);
      await opened.indexer.apply(again.batch, again.upTo);
      assert.deepEqual(await opened.probe(), ['d1', 'd2', 'd3']);
      // An empty batch only records the sequence.
      await opened.indexer.apply([], again.upTo);
      assert.equal(await opened.indexer.indexedSeq(), again.upTo);

      const d2 = await db.get('d2');
      await db.remove('d2', d2._rev!);
      const d3 = await db.get('d3');
      await db.put({ ...d3, n: undefined, text: undefined, other: true });
      await db.put({ _id: 'd4', n: 4, text: 'delta text' });
      const after = await feeder().catchUp();
      assert.deepEqual(await opened.probe(), ['d1', 'd4']);

      await opened.close();
      await store.close();
      store = await engine.open({ location: `${dir.path}/idx` });
      opened = await impl.open(db, store);
      assert.equal(await opened.indexer.indexedSeq(), after, 'the indexed sequence survives a reopen');
      assert.deepEqual(await opened.probe(), ['d1', 'd4'], 'rows survive a reopen without a rebuild');
      await opened.close();
    });

    test('purges: a whole document leaves the index, a partial one reindexes the new winner, a lagging index is rebuilt', async (t) => {
      const dir = await tempDir();
      const db = await openDatabase('conf', { engine: 'leveldb', dataDir: dir.path, durability: 'fast', design: false });
      const store = await leveldbEngine().open({ location: `${dir.path}/idx` });
      let opened: Opened | undefined;
      t.after(async () => {
        await opened?.close();
        await db.close();
        await store.close().catch(() => undefined);
        await dir.cleanup();
      });
      await db.put(impl.ddoc);
      opened = await impl.open(db, store);
      const indexer = opened.indexer;
      const probe = opened.probe;
      const feeder = new IndexFeeder(db, indexer);
      const written = await db.bulkDocs([
        { _id: 'd1', n: 1, text: 'alpha text' },
        { _id: 'd2', n: 2, text: 'beta text' },
        { _id: 'd3', n: 3, text: 'gamma text' },
      ]);
      const revOf = (id: string) => (written.find((w) => w.id === id) as { rev: string }).rev;
      // A conflict whose winning leaf (1-b…) is not indexed and whose losing leaf is.
      await db.bulkDocs(
        [
          { _id: 'c', _rev: '1-' + 'a'.repeat(32), n: 5, text: 'loser text' },
          { _id: 'c', _rev: '1-' + 'b'.repeat(32), other: true },
        ],
        { newEdits: false },
      );
      await feeder.catchUp();
      assert.deepEqual(await probe(), ['d1', 'd2', 'd3']);

      await db.purge({ d1: [revOf('d1')], c: ['1-' + 'b'.repeat(32)] });
      assert.equal(await feeder.catchUp(), (await db.info()).updateSeq);
      assert.deepEqual(await probe(), ['c', 'd2', 'd3']);

      // More purges than the database keeps happen while the index lags: it is rebuilt.
      await db.setPurgedInfosLimit(1);
      await db.purge({ d2: [revOf('d2')] });
      await db.purge({ unknown: ['1-' + 'c'.repeat(32)] });
      let resets = 0;
      const reset = indexer.reset!.bind(opened.indexer);
      indexer.reset = async () => {
        resets++;
        await reset();
      };
      await feeder.catchUp();
      assert.equal(resets, 1);
      assert.deepEqual(await probe(), ['c', 'd3']);
    });

    test('an index ahead of its database (whose storage lost writes the index had read) is rebuilt', async (t) => {
      const dir = await tempDir();
      const open = (name: string) => openDatabase(name, { engine: 'leveldb', dataDir: dir.path, durability: 'fast', design: false });
      const before = await open('before');
      const after = await open('after');
      const store = await leveldbEngine().open({ location: `${dir.path}/idx` });
      const opened: Opened[] = [];
      t.after(async () => {
        for (const o of opened) await o.close();
        await before.close();
        await after.close();
        await store.close().catch(() => undefined);
        await dir.cleanup();
      });
      // The same index store read `before`, which went further than `after` (what survived) did.
      await before.put(impl.ddoc);
      await before.bulkDocs([1, 2, 3, 4].map((n) => ({ _id: `d${n}`, n, text: `t${n} text` })));
      opened.push(await impl.open(before, store));
      await new IndexFeeder(before, opened[0]!.indexer).catchUp();
      assert.deepEqual(await opened[0]!.probe(), ['d1', 'd2', 'd3', 'd4']);
      await opened.pop()!.close();
      await after.put(impl.ddoc);
      await after.put({ _id: 'd1', n: 1, text: 't1 text' });
      opened.push(await impl.open(after, store));
      const seq = await new IndexFeeder(after, opened[0]!.indexer).catchUp();
      assert.equal(seq, (await after.info()).updateSeq);
      assert.deepEqual(await opened[0]!.probe(), ['d1']);
    });
  });
}
