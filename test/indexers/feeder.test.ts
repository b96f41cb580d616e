// IndexFeeder after a recount for lost writes: an index from before it is rebuilt once, and a
// rebuild cut short resumes from its checkpoint (purges meanwhile applied), as any build does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/index.ts';
import { IndexFeeder, type Indexer, type IndexerChange } from '../../src/indexers/index.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import { tempDir } from '../helpers/db.ts';

/** An indexer in memory (ids it holds), that can be told to fail after some batches. */
function memoryIndexer() {
  const ids = new Set<string>();
  const state = { seq: 0, resets: 0, batches: 0, failAfter: Infinity, applied: 0, rebuiltFor: 0 };
  const indexer: Indexer = {
    kind: 'test',
    indexedSeq: async () => state.seq,
    async apply(changes: readonly IndexerChange[], upTo: number) {
      if (changes.length > 0 && state.batches++ >= state.failAfter) throw new Error('cut short');
      for (const c of changes) c.deleted ? ids.delete(c.id) : ids.add(c.id);
      state.applied += changes.length;
      state.seq = Math.max(state.seq, upTo);
    },
    async reset(recoveredSeq = 0) {
      state.resets++;
      ids.clear();
      state.seq = 0;
      state.rebuiltFor = recoveredSeq;
    },
    rebuiltFor: async () => state.rebuiltFor,
    close: async () => undefined,
  };
  return { indexer, ids, state };
}

test('after a recount, an index from before is rebuilt once, and a rebuild cut short resumes from its checkpoint', async (t) => {
  const dir = await tempDir('refuge-feeder-recount-');
  t.after(dir.cleanup);
  let db = await openDatabase('f', { dataDir: dir.path });
  await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}` })));
  const { indexer, ids, state } = memoryIndexer();
  await new IndexFeeder(db, indexer, { batchSize: 10 }).catchUp();
  assert.equal(ids.size, 50);
  await db.close();
  // As LevelDB leaves a database that dropped damaged data: its next open counts it again.
  const store = await leveldbEngine().open({ location: `${dir.path}/f` });
  const meta = JSON.parse((await store.get('m!info'))!) as Record<string, unknown>;
  await store.batch([{ type: 'put', key: 'm!info', value: JSON.stringify({ ...meta, recountPending: true }) }], { sync: true });
  await store.close();
  db = await openDatabase('f', { dataDir: dir.path });
  t.after(() => db.close());
  await db.remove('d00', (await db.get('d00'))._rev!);

  // The index read everything before the recount: it is rebuilt, and cut short after two batches.
  state.failAfter = 2;
  state.batches = 0;
  await assert.rejects(new IndexFeeder(db, indexer, { batchSize: 10 }).catchUp(), /cut short/);
  assert.equal(state.resets, 1);
  const cutAt = state.seq;
  assert.ok(cutAt > 0, 'the rebuild checkpointed what it applied');
  // A purge while it is cut short: the resumed build drops that document too.
  await db.purge({ d10: [(await db.get('d10'))._rev!] });
  state.failAfter = Infinity;
  state.applied = 0;
  const seq = await new IndexFeeder(db, indexer, { batchSize: 10 }).catchUp();
  assert.equal(state.resets, 1, 'resumed, not rebuilt again');
  assert.ok(state.applied < 49, `resumed from its checkpoint (${state.applied} changes applied again)`);
  assert.equal(seq, (await db.info()).updateSeq);
  assert.equal(ids.size, 48);
  assert.ok(!ids.has('d00') && !ids.has('d10'));
  // Done: later runs read only what is new.
  await db.put({ _id: 'late' });
  await new IndexFeeder(db, indexer, { batchSize: 10 }).catchUp();
  assert.equal(state.resets, 1);
  assert.ok(ids.has('late'));
});

test('large documents are fed a few at a time, within the byte budget, each once and in order', async (t) => {
  const dir = await tempDir('refuge-feeder-bytes-');
  t.after(dir.cleanup);
  const db = await openDatabase('f', { dataDir: dir.path });
  t.after(() => db.close());
  const pad = 'x'.repeat(4000);
  // Small and 4 kB documents mixed, a deletion among them.
  await db.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, ...(i % 3 === 0 ? {} : { pad }) })));
  await db.remove('d05', (await db.get('d05'))._rev!);
  const { indexer, ids, state } = memoryIndexer();
  const seen: string[] = [];
  const sizes: number[] = [];
  const apply = indexer.apply.bind(indexer);
  indexer.apply = async (changes, upTo) => {
    if (changes.length > 0) sizes.push(changes.reduce((n, c) => n + (c.doc ? JSON.stringify(c.doc).length : 0), 0));
    for (const c of changes) {
      seen.push(c.id);
      assert.ok(c.deleted || c.doc !== undefined, `${c.id} came without its document`);
    }
    await apply(changes, upTo);
  };
  const seq = await new IndexFeeder(db, indexer, { batchSize: 1000, batchBytes: 10_000 }).catchUp();
  assert.equal(seq, (await db.info()).updateSeq);
  assert.equal(state.seq, seq);
  assert.deepEqual(seen, [...Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}`).filter((id) => id !== 'd05'), 'd05']);
  assert.equal(ids.size, 39);
  assert.ok(sizes.length >= 8, `${sizes.length} steps for ~108 kB`);
  // A step ends at the document that passes the budget: at most one 4 kB document past it.
  for (const bytes of sizes) assert.ok(bytes < 10_000 + 4_200, `a step of ${bytes} bytes`);
});
