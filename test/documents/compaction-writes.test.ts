// Compaction under a steady stream of writes: its passes run between write groups without waiting
// for each flush, keep pace with new records, and finish while the writes go on, losing none.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';

test('compaction finishes while several writers keep inserting and updating, and loses no write', async (t) => {
  const { db, cleanup } = await freshDb('leveldb');
  t.after(cleanup);
  const ids = Array.from({ length: 6000 }, (_, i) => `k${String(i).padStart(6, '0')}`);
  const revs = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < ids.length; i += 1000) {
      const res = await db.bulkDocs(ids.slice(i, i + 1000).map((id) => ({ _id: id, ...(revs.has(id) ? { _rev: revs.get(id) } : {}), round })));
      for (const r of res) if ('ok' in r) revs.set(r.id, r.rev);
    }
  }
  await db.ensureFullCommit();

  let done = false;
  let written = 0;
  const CAP = 120; // write batches per writer; compaction must end well before the writers do
  const compaction = db.compact().then((r) => {
    done = true;
    return { ...r, writtenMeanwhile: written };
  });
  const writer = async (w: number) => {
    for (let n = 0; n < CAP && !done; n++) {
      // New ids land all over the range compaction walks, ahead of its cursor and behind it.
      const docs: Array<Record<string, unknown>> = Array.from({ length: 250 }, (_, i) => ({ _id: `k${String((n * 250 + i) * 24 + w).padStart(6, '0')}x${w}`, w, n }));
      // And some of the compacted documents get a new revision meanwhile.
      const upd = ids[(n * 37 + w * 11) % ids.length]!;
      docs.push({ _id: upd, _rev: revs.get(upd), round: 100 + n });
      const res = await db.bulkDocs(docs);
      for (const r of res) {
        assert.ok('ok' in r, JSON.stringify(r));
        if (r.id === upd) revs.set(upd, r.rev);
      }
      written += docs.length;
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  const result = await Promise.race([compaction, Promise.all(writers).then(() => undefined)]);
  await Promise.all(writers);
  await compaction;
  assert.ok(result !== undefined, `compaction was still running after the writers' ${written} writes`);
  assert.ok(result.droppedBodies >= 6000 * 2 - 4 * CAP, String(result.droppedBodies));

  // Nothing lost: every update is the winner, every insert is there, and old bodies are gone.
  for (const [id, rev] of revs) assert.equal((await db.get(id))._rev, rev);
  const info = await db.info();
  assert.equal(info.docCount, 6000 + written - countUpdates(written));
  const last = await db.get(ids[5999]!, { revsInfo: true });
  const infos = last._revs_info as Array<{ status: string }>;
  assert.deepEqual(infos.map((r) => r.status), ['available', 'missing', 'missing']);
});

/** Each writer batch is 250 inserts and one update. */
function countUpdates(written: number): number {
  return written / 251;
}
