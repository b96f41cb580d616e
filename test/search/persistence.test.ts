// Saved indexes: a restart on LevelDB loads the snapshot and replays only the changes made since;
// a crash between saves costs only that replay; snapshots are chunked into values of at most 1 MiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../../src/index.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import { memoryEngine } from '../../src/storage/index.ts';
import { IndexFeeder } from '../../src/indexers/index.ts';
import { chunkText, loadSnapshot, writeSnapshot } from '../../src/search/snapshot.ts';
import { tempDir } from '../helpers/db.ts';
import { fieldsDef, ids, openIndex, POSTS, sorted } from './helpers.ts';

const DEF = fieldsDef({ fields: ['title', 'body'], store: ['title'] });

async function session(dir: string) {
  const engine = leveldbEngine();
  const db = await openDatabase('posts', { engine: 'leveldb', dataDir: dir, durability: 'fast' });
  const store = await engine.open({ location: join(dir, 'indexes') });
  const index = await openIndex(store, DEF);
  const feeder = new IndexFeeder(db, index, { batchSize: 2 });
  return {
    db,
    index,
    feeder,
    end: async (save = true) => {
      await index.close({ save });
      await store.close();
      await db.close();
    },
  };
}

test('a restart on LevelDB loads the index and replays only newer changes', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  let s = await session(dir.path);
  await s.db.bulkDocs(POSTS);
  await s.feeder.catchUp();
  assert.equal(s.index.stats.appliedChanges, POSTS.length);
  await s.end();

  s = await session(dir.path);
  const seq = (await s.db.info()).updateSeq;
  assert.equal(s.index.stats.loadedSeq, seq);
  assert.equal(await s.index.indexedSeq(), seq);
  assert.deepEqual(sorted(ids(s.index.search({ q: 'red' }))), ['n1', 'p1', 'p2'], 'answers before any catch-up');
  await s.feeder.catchUp();
  assert.equal(s.index.stats.appliedChanges, 0, 'nothing replayed');
  // Changes made while the index is not running are picked up from the feed on the next start.
  await s.index.close();
  await s.db.bulkDocs([{ _id: 'x1', title: 'red panda' }, { _id: 'x2', title: 'grey wolf' }]);
  const p1 = await s.db.get('p1');
  await s.db.remove('p1', p1._rev!);
  await s.end();

  s = await session(dir.path);
  t.after(() => s.end());
  await s.feeder.catchUp();
  assert.equal(s.index.stats.appliedChanges, 3, 'exactly the three changes since the snapshot');
  assert.deepEqual(sorted(ids(s.index.search({ q: 'red' }))), ['n1', 'p2', 'x1']);
  assert.deepEqual(s.index.search({ q: 'wolf' }).rows[0]!.fields, { title: 'grey wolf' });
});

test('a crash between saves only costs a replay of the changes after the last save', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  let s = await session(dir.path);
  await s.db.bulkDocs(POSTS);
  await s.feeder.catchUp();
  await s.index.flush();
  const saved = await s.index.indexedSeq();
  await s.db.bulkDocs(Array.from({ length: 4 }, (_, i) => ({ _id: `late${i}`, title: `late red ${i}` })));
  await s.feeder.catchUp();
  assert.equal(s.index.search({ q: 'late' }).total_rows, 4);
  await s.end(false);

  s = await session(dir.path);
  t.after(() => s.end());
  assert.equal(s.index.stats.loadedSeq, saved);
  assert.equal(s.index.search({ q: 'late' }).total_rows, 0, 'the snapshot is the state at its seq');
  await s.feeder.catchUp();
  assert.equal(s.index.stats.appliedChanges, 4);
  assert.equal(s.index.search({ q: 'late' }).total_rows, 4);
  assert.equal(await s.index.indexedSeq(), (await s.db.info()).updateSeq);
});

test('saves happen after enough changes, not on every apply', async (t) => {
  const store = await memoryEngine.open({ location: 'save-every' });
  const index = await openIndex(store, DEF, { saveEvery: 10 });
  t.after(() => index.close());
  const change = (i: number) => ({ seq: i, id: `d${i}`, deleted: false, doc: { _id: `d${i}`, title: `t${i}` } });
  for (let i = 1; i <= 9; i++) await index.apply([change(i)], i);
  assert.equal(await store.get(`search/${DEF.signature}/meta`), undefined, 'nothing saved after 9 changes');
  await index.apply([change(10)], 10);
  // This flush queues behind the save the 10th change started, and finds nothing left to save.
  await index.flush();
  assert.equal(index.stats.saves, 1);
  assert.equal(JSON.parse((await store.get(`search/${DEF.signature}/meta`))!).seq, 10);
  await index.apply([change(11)], 11);
  await index.flush();
  assert.equal(index.stats.saves, 2);
  await index.flush();
  assert.equal(index.stats.saves, 2, 'a flush with nothing new writes nothing');
});

test('snapshots are cut into values of at most 1 MiB, never inside a surrogate pair', async () => {
  assert.deepEqual(chunkText('ab\u{1F600}cd', 3), ['ab', '\u{1F600}c', 'd']);
  const store = await memoryEngine.open({ location: 'chunks' });
  const text = ('x'.repeat(500) + 'é\u{1F98A}"\\').repeat(6000);
  let meta = await writeSnapshot(store, 'p/', { signature: 's', seq: 7, text }, undefined);
  assert.ok(meta.chunks > 1);
  meta = await writeSnapshot(store, 'p/', { signature: 's', seq: 9, text: text + 'z' }, meta);
  let count = 0;
  for await (const rows of store.scan({ gte: 'p/', lt: 'p/\uffff' })) {
    for (const [, v] of rows) {
      count++;
      assert.ok(new TextEncoder().encode(v).length <= 1024 * 1024);
    }
  }
  assert.equal(count, meta.chunks + 1, 'the previous generation is gone');
  const back = await loadSnapshot(store, 'p/', 's');
  assert.equal(back?.meta.seq, 9);
  assert.equal(back?.text, text + 'z');
  assert.equal(await loadSnapshot(store, 'p/', 'other'), undefined);
  await store.close();
});
