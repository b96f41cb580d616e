// The pipelined writer under fast durability: updates computed while earlier ones are still being
// flushed must read those earlier ones (regression: a flush finishing during a bulk read made the
// next batch see stale records and drop a revision).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';

test('back-to-back bulk updates in fast mode keep every revision', async (t) => {
  const { db, cleanup } = await freshDb('leveldb', { durability: 'fast' });
  t.after(cleanup);
  const n = 60;
  const rounds = 25;
  const revs = new Map<string, string[]>();
  for (let round = 0; round < rounds; round++) {
    const docs = Array.from({ length: n }, (_, i) => {
      const id = `d${i}`;
      const history = revs.get(id);
      return { _id: id, ...(history ? { _rev: history.at(-1) } : {}), round, pad: 'p'.repeat(500) };
    });
    // Not awaited one by one: the next batch is computed while this one may still be flushing.
    const res = await db.bulkDocs(docs);
    for (const r of res) {
      assert.ok('ok' in r, JSON.stringify(r));
      revs.set(r.id, [...(revs.get(r.id) ?? []), r.rev]);
    }
  }
  for (const [id, history] of revs) {
    assert.equal(history.length, rounds);
    const doc = await db.get(id, { revs: true });
    assert.equal(doc.round, rounds - 1);
    assert.equal((doc._revisions as { ids: string[] }).ids.length, rounds);
    // Every old revision's body is still there until compaction.
    const old = await db.get(id, { rev: history[rounds - 2] });
    assert.equal(old.round, rounds - 2);
  }
  const info = await db.info();
  assert.equal(info.updateSeq, n * rounds);
});
