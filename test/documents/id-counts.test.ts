// `offset` of `_all_docs` (live documents before a start key) against a brute-force count: the
// segment counts with tiny segments under random puts, deletions and re-cuts, then a database's
// listings in both directions, with skip, across deletions, purges and more than one segment.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openCoreDatabase } from '../../src/core.ts';
import { IdCounts } from '../../src/documents/id-counts.ts';
import { docKey } from '../../src/documents/keys.ts';
import { compareStrings } from '../../src/query/index.ts';
import { memoryEngine } from '../../src/storage/index.ts';

const record = (deleted: boolean) => `{"r":"1-a","d":${deleted ? 1 : 0},"s":1,"t":[]}\n{}`;
// Astral characters and U+E000..U+FFFF order differently in UTF-16 and in UTF-8: both are here.
const ID_CHARS = ['a', 'b', 'c', 'z', '\u00e9', '\uffee', '\u{1f600}'];
const idArb = fc.array(fc.constantFrom(...ID_CHARS), { minLength: 1, maxLength: 3 }).map((cs) => cs.join(''));

test('segment counts answer exactly what a scan of the records counts', async () => {
  const op = fc.record({ id: idArb, live: fc.boolean() });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(op, { maxLength: 8 }), { maxLength: 25 }), fc.integer({ min: 1, max: 3 }), idArb, async (groups, segment, probe) => {
      const store = await memoryEngine.open({ location: 'id-counts' });
      try {
        const state = new Map<string, boolean>();
        const counts = new IdCounts(segment);
        const half = Math.floor(groups.length / 2);
        for (let g = 0; g < groups.length; g++) {
          if (g === half) await counts.count(store);
          const deltas: Array<string | number> = [];
          const ops: Array<{ type: 'put'; key: string; value: string }> = [];
          for (const { id, live } of groups[g]!) {
            const was = state.get(id) === true;
            if (was !== live) deltas.push(id, live ? 1 : -1);
            state.set(id, live);
            ops.push({ type: 'put', key: docKey(id), value: record(!live) });
          }
          await store.batch(ops);
          counts.apply(deltas);
          // Cut again as the database would, before answering at an id of a long segment.
          if (counts.needsCut(probe)) await counts.recut(store, probe);
        }
        if (!counts.ready) await counts.count(store);
        const live = [...state].filter(([, l]) => l).map(([id]) => id);
        for (const id of [probe, ...state.keys(), '', '\u{10ffff}']) {
          const below = live.filter((x) => compareStrings(x, id) < 0).length;
          assert.equal(await counts.before(store, id, false), below, `before ${JSON.stringify(id)}`);
          assert.equal(await counts.before(store, id, true), below + (state.get(id) ? 1 : 0), `at ${JSON.stringify(id)}`);
        }
      } finally {
        await store.close();
      }
    }),
    { numRuns: 150 },
  );
});

test('allDocs offset is the number of rows before the first one, as CouchDB counts it', async () => {
  const db = await openCoreDatabase('offsets');
  try {
    const ids = Array.from({ length: 1300 }, (_, i) => `doc${String(i).padStart(5, '0')}`);
    // The first listing with a start key counts the documents; the writes after it are applied.
    await db.bulkDocs(ids.slice(0, 600).map((_id) => ({ _id })));
    assert.equal((await db.allDocs({ startkey: 'doc00100', limit: 1 })).offset, 100);
    await db.bulkDocs(ids.slice(600).map((_id) => ({ _id })));
    const live = new Set(ids);
    // Deletions in several segments, one document deleted then written again, one purged.
    for (const i of [3, 50, 700, 701, 1299]) {
      const id = ids[i]!;
      await db.remove(id, (await db.get(id))._rev!);
      live.delete(id);
    }
    await db.put({ _id: ids[50]! });
    live.add(ids[50]!);
    await db.purge({ [ids[900]!]: [(await db.get(ids[900]!))._rev!] });
    live.delete(ids[900]!);
    const sorted = [...live].sort();
    for (const start of ['doc00000', 'doc00004', 'doc00500', 'doc00700', 'doc00900', 'doc01299', 'doc9', 'a', 'doc00650x']) {
      const before = sorted.filter((x) => x < start).length;
      const after = sorted.filter((x) => x > start).length;
      assert.equal((await db.allDocs({ startkey: start, limit: 2 })).offset, before, `startkey ${start}`);
      assert.equal((await db.allDocs({ startkey: start, limit: 2, skip: 3 })).offset, before + Math.min(3, sorted.length - before), `skip ${start}`);
      // `limit: 0` counts only the rows its skip passes over, never past the end.
      assert.equal((await db.allDocs({ startkey: start, limit: 0, skip: 5 })).offset, before + Math.min(5, sorted.length - before), `limit 0 ${start}`);
      assert.equal((await db.allDocs({ startkey: start, descending: true, limit: 2 })).offset, after, `descending ${start}`);
      assert.equal((await db.allDocs({ key: start })).offset, before, `key ${start}`);
    }
    // Without a start key the offset is what was skipped, as before.
    assert.equal((await db.allDocs({ limit: 1, skip: 7 })).offset, 7);
    assert.equal((await db.allDocs({ descending: true, endkey: 'doc01000', skip: 2 })).offset, 2);
    assert.equal((await db.allDocs({ keys: [ids[1]!, ids[2]!], skip: 1 })).offset, 1);
    // Past every id: every row is before it.
    assert.equal((await db.allDocs({ startkey: 'zzz' })).offset, live.size);
    assert.equal((await db.allDocs({ startkey: 'zzz' })).totalRows, live.size);
  } finally {
    await db.close();
  }
});
