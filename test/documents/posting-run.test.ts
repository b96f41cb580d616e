// Small write groups queued for one flush share their path index postings (a run, one key per
// value under one tag); a bulk group ends the run before its own tag, and tags keep rising across
// a reopen, so every value's postings replay in the order of the writes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../helpers/db.ts';
import { gatedEngine, ticks } from '../helpers/gated-engine.ts';
import { postingsOf } from '../helpers/store.ts';
import { openDatabase } from '../../src/index.ts';
import type { Database } from '../../src/core.ts';
import { RUN_MAX_GROUP_ENTRIES } from '../../src/documents/writer-flush.ts';

/** The ids the path index holds at `path` = `value` (a path query reads the index alone; find would re-check each document). */
const idsWhere = async (db: Database, path: string, value: unknown) => {
  const ids: string[] = [];
  for await (const row of db.query({ path, eq: value })) ids.push(row.id);
  return ids.sort();
};

async function gatedDb(name: string): Promise<{ db: Database; hold: () => void; release: () => void }> {
  const { engine, hold, release } = gatedEngine();
  const db = await openDatabase(name, { engine, durability: 'fast' });
  return { db, hold, release };
}

test('single edits queued behind a held flush share one posting per value, and queries answer as before', async (t) => {
  const { db, hold, release } = await gatedDb('posting-run');
  t.after(async () => {
    release();
    await db.destroy();
  });
  const docs = Array.from({ length: 40 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, state: 'new', n: i }));
  const revs = new Map((await db.bulkDocs(docs)).map((r) => [r.id, (r as { rev: string }).rev]));
  await db.ensureFullCommit();
  hold();
  const edit = async (id: string, state: string) => revs.set(id, (await db.put({ _id: id, _rev: revs.get(id), state, n: 0 })).rev);
  await edit('d00', 'done');
  await ticks(); // its flush is under way, held
  for (let i = 1; i < 21; i++) await edit(docs[i]!._id, 'done');
  release();
  await db.ensureFullCommit();
  // The first edit's own flush, then one for the twenty queued behind it: a posting each.
  assert.equal((await postingsOf(db, 'state', 'done')).length, 2, 'postings at "done"');
  assert.equal((await postingsOf(db, 'state', 'new')).length, 3, 'postings at "new": the insert, then the two flushes');
  assert.equal((await postingsOf(db, 'n', 0)).length, 2, "postings at n=0: the insert's, then the twenty edits' (d00's edit left n as it was)");
  assert.deepEqual(await idsWhere(db, 'state', 'done'), docs.slice(0, 21).map((d) => d._id));
  assert.deepEqual(await idsWhere(db, 'state', 'new'), docs.slice(21).map((d) => d._id));
  assert.deepEqual(await idsWhere(db, 'n', 0), docs.slice(0, 21).map((d) => d._id));
});

test('a bulk write ends the run of small edits before it, and the next run takes a later tag', async (t) => {
  const { db, hold, release } = await gatedDb('posting-run-bulk');
  t.after(async () => {
    release();
    await db.destroy();
  });
  const revs = new Map((await db.bulkDocs(['x', 'y', 'z'].map((id) => ({ _id: id, state: 'new' })))).map((r) => [r.id, (r as { rev: string }).rev]));
  const edit = async (id: string, state: string) => revs.set(id, (await db.put({ _id: id, _rev: revs.get(id), state })).rev);
  await db.ensureFullCommit();
  hold();
  await db.put({ _id: 'first', state: 'other' });
  await ticks(); // its flush is under way, held
  // Queued behind it: x and z move to "done" (small groups: a run), a bulk write large enough for
  // postings of its own moves x back to "new", then y moves on in a run of its own.
  await edit('x', 'done');
  await edit('z', 'done');
  const many = Array.from({ length: RUN_MAX_GROUP_ENTRIES }, (_, i) => ({ _id: `m${String(i).padStart(4, '0')}`, state: 'new', k: i }));
  const written = await db.bulkDocs([{ _id: 'x', _rev: revs.get('x'), state: 'new' }, ...many]);
  assert.ok(written.every((r) => 'ok' in r), 'the bulk write is acknowledged');
  await edit('y', 'other');
  release();
  await db.ensureFullCommit();
  assert.deepEqual(await idsWhere(db, 'state', 'done'), ['z'], 'x left "done" again, z stayed');
  assert.deepEqual(await idsWhere(db, 'state', 'new'), ['x', ...many.map((d) => d._id)].sort(), 'y and z left "new"');
  assert.deepEqual(await idsWhere(db, 'state', 'other'), ['first', 'y']);
});

test('on leveldb: tags keep rising across a reopen, so later runs never overwrite earlier postings', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const open = () => openDatabase('reopened', { engine: 'leveldb', dataDir: dir.path, durability: 'fast' });
  const first = await open();
  await first.put({ _id: 'a', tag: 'same' });
  await first.put({ _id: 'b', tag: 'same' });
  await first.close();
  const db = await open();
  try {
    await db.put({ _id: 'c', tag: 'same' });
    await db.put({ _id: 'd', tag: 'same' });
    assert.deepEqual(await idsWhere(db, 'tag', 'same'), ['a', 'b', 'c', 'd']);
  } finally {
    await db.close();
  }
});
