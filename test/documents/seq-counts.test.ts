// `pending` (changes after a sequence) against a count of the feed itself: the block counts with
// tiny blocks under random additions and removals, then a database written every way a sequence
// entry can move (new docs, updates, a doc twice in one bulk write, deletions, replicated
// conflicts, purges), across more than one default block.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openCoreDatabase } from '../../src/core.ts';
import { SeqCounts } from '../../src/documents/seq-counts.ts';
import { seqKey } from '../../src/documents/keys.ts';
import { memoryEngine } from '../../src/storage/index.ts';

test('the counts answer exactly what a scan of the sequence keys counts', async () => {
  // Sequences far apart too (a skip moves the next one on by up to ~3,000): entries spread over
  // many words and blocks of the bitmap, and its growth.
  const op = fc.record({ add: fc.boolean(), pick: fc.nat(), skip: fc.oneof(fc.constant(0), fc.nat({ max: 3000 })) });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { maxLength: 30 }), async (groups) => {
      const store = await memoryEngine.open({ location: 'seq-counts' });
      try {
        const live = new Set<number>();
        let next = 1;
        const counts = new SeqCounts();
        // Half the groups are written before the first count, the rest applied as deltas after it.
        const half = Math.floor(groups.length / 2);
        for (let g = 0; g < groups.length; g++) {
          if (g === half) await counts.count(store);
          const removed: number[] = [];
          const added: number[] = [];
          // In order, as a write batch holds them: a sequence added in a group may go again in it.
          const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [];
          for (const { add, pick, skip } of groups[g]!) {
            if (add || live.size === 0) {
              next += skip;
              added.push(next);
              ops.push({ type: 'put', key: seqKey(next), value: '[]' });
              live.add(next++);
            } else {
              const seq = [...live][pick % live.size]!;
              live.delete(seq);
              removed.push(seq);
              ops.push({ type: 'del', key: seqKey(seq) });
            }
          }
          await store.batch(ops);
          counts.apply(removed, added);
        }
        if (!counts.ready) await counts.count(store);
        const sorted = [...live].sort((a, b) => a - b);
        const asked = new Set([0, next, next + 1000, ...sorted.flatMap((s) => [s - 1, s, s + 1]), ...sorted.map((s) => s - (s % 32) + 31), ...sorted.map((s) => s - (s % 256))]);
        for (const s of asked) {
          if (s < 0) continue;
          assert.equal(counts.after(s), sorted.filter((x) => x > s).length, `after ${s}`);
        }
      } finally {
        await store.close();
      }
    }),
    { numRuns: 200 },
  );
});

test('a count reads no storage, and follows the writes applied', async () => {
  const store = await memoryEngine.open({ location: 'seq-counts-end' });
  try {
    await store.batch([1, 2, 3, 5, 6, 40, 300].map((s) => ({ type: 'put' as const, key: seqKey(s), value: '[]' })));
    const counts = new SeqCounts();
    await counts.count(store);
    assert.deepEqual([0, 3, 6, 39, 40, 299, 300, 10_000].map((s) => counts.after(s)), [7, 4, 2, 2, 1, 1, 0, 0], 'after each sequence');
    counts.apply([2, 40], [301, 70_000]);
    assert.deepEqual([0, 1, 300, 301, 69_999, 70_000].map((s) => counts.after(s)), [7, 6, 2, 1, 1, 0], 'after writes moved two documents');
    assert.throws(() => new SeqCounts().after(0), { code: 'internal' }, 'asked before it was counted');
  } finally {
    await store.close();
  }
});

test('pendingAfter equals the rows the feed still holds after each sequence', async () => {
  const db = await openCoreDatabase('pending');
  try {
    const ids = Array.from({ length: 700 }, (_, i) => `d${String(i).padStart(4, '0')}`);
    await db.bulkDocs(ids.map((_id) => ({ _id, n: 0 })));
    // Counted now, so everything below moves the counts as writes commit.
    assert.equal(await db.pendingAfter(0), 700);
    const revs = new Map((await db.allDocs()).rows.map((r) => [r.id, r.value!.rev]));
    // Updates and deletions move documents to new sequences.
    for (let i = 0; i < 700; i += 3) {
      const rev = revs.get(ids[i]!)!;
      const res = i % 2 === 0 ? await db.put({ _id: ids[i], _rev: rev, n: 1 }) : await db.remove(ids[i]!, rev);
      revs.set(ids[i]!, res.rev);
    }
    // The same document twice in one bulk write takes one sequence, then another.
    const twice = (await db.bulkDocs([{ _id: 'twice', n: 1 }, { _id: 'other', n: 1 }])) as Array<{ rev: string }>;
    await db.bulkDocs([{ _id: 'twice', _rev: twice[0]!.rev, n: 2 }, { _id: 'twice', _rev: twice[0]!.rev, n: 3 }]);
    // Replicated conflicts, and purges (of a whole document, and of one branch).
    await db.bulkDocs([{ _id: ids[1], _rev: '9-aaaa', _revisions: { start: 9, ids: ['aaaa'] }, n: 9 }], { newEdits: false });
    await db.purge({ [ids[2]!]: [revs.get(ids[2]!)!], [ids[1]!]: ['9-aaaa'] });
    // More new documents, past the first block of 1024 sequences.
    await db.bulkDocs(Array.from({ length: 400 }, (_, i) => ({ _id: `e${i}`, n: i })));

    const info = await db.info();
    assert.ok(info.updateSeq > 1024);
    const all = (await db.changes({ since: 0 })).results.map((r) => r.seq);
    for (const since of [0, 1, 2, 500, 699, 700, 701, 900, 1023, 1024, 1025, info.updateSeq - 1, info.updateSeq, info.updateSeq + 5]) {
      assert.equal(await db.pendingAfter(since), all.filter((s) => s > since).length, `since ${since}`);
    }
    await assert.rejects(db.pendingAfter(-1), { code: 'bad_request' });
  } finally {
    await db.close();
  }
});
