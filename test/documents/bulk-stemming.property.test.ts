// One bulk write of many histories of one document, against the pure model: CouchDB merges every
// edit of a document in one update and stems once (couch_db_updater:merge_rev_trees), so the stored
// tree is stem(merge of all of them), each body it keeps is readable, and no other body is left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openCoreDatabase, type Database } from '../../src/core.ts';
import { decodeRecord } from '../../src/documents/doc-record.ts';
import { mergePath, type Rev, type RevTree } from '../../src/documents/rev-tree.ts';
import { winner } from '../../src/documents/rev-leaves.ts';
import { stem } from '../../src/documents/rev-stemming.ts';
import { dump } from '../helpers/store.ts';

interface History {
  path: Rev[];
  deleted: boolean;
}

/** Random forests of up to 12 revs: node i branches from an earlier one or starts a root. */
const forestArb = fc.array(fc.record({ parent: fc.nat(), root: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 12 }).map((specs) => {
  const revs: Rev[] = [];
  const parent: Array<number | null> = [];
  specs.forEach((s, i) => {
    const p = i === 0 || s.root === 0 ? null : s.parent % i;
    const gen = p === null ? 1 + (s.parent % 3) : Number.parseInt(revs[p]!, 10) + 1;
    revs.push(`${gen}-${(i + 1).toString(16).padStart(32, '0')}`);
    parent.push(p);
  });
  return { revs, parent };
});

/** Histories of random revs, each cut to its newest `keep` revs or not. */
const scenarioArb = forestArb.chain((f) =>
  fc
    .tuple(
      fc.array(fc.record({ head: fc.nat({ max: f.revs.length - 1 }), keep: fc.option(fc.integer({ min: 1, max: 5 })), deleted: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 10 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 1, max: 4 }),
    )
    .map(([picks, split, limit]) => {
      const histories: History[] = picks.map(({ head, keep, deleted }) => {
        const full: Rev[] = [];
        for (let i: number | null = head; i !== null; i = f.parent[i]!) full.push(f.revs[i]!);
        return { path: keep === null ? full : full.slice(0, keep), deleted: deleted === 0 };
      });
      // The histories before `split` are written first, in a write of their own.
      return { histories, split: Math.min(split, histories.length), limit };
    }),
);

const docOf = (h: History, n: number) => ({
  _id: 'x',
  _revisions: { start: Number.parseInt(h.path[0]!, 10), ids: h.path.map((r) => r.slice(r.indexOf('-') + 1)) },
  ...(h.deleted ? { _deleted: true } : {}),
  n,
});

function model(histories: readonly History[], limit: number, tree: RevTree = new Map()): RevTree {
  for (const h of histories) tree = mergePath(tree, h.path, h.deleted).tree;
  return stem(tree, limit);
}

async function stored(db: Database): Promise<{ tree: RevTree; rev: Rev; bodies: string[] }> {
  const all = await dump(db);
  const rec = decodeRecord('x', all.d!.find(([k]) => k === 'd!x')![1]);
  return { tree: rec.tree, rev: rec.rev, bodies: (all.r ?? []).map(([k]) => k.slice(k.indexOf('\u0000') + 1)).sort() };
}

let dbs = 0;

test('a bulk write stems each document once, after merging all of its histories', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ histories, split, limit }) => {
      const db = await openCoreDatabase(`bulk-stem-${dbs++}`, { revsLimit: limit });
      try {
        const first = histories.slice(0, split);
        const second = histories.slice(split);
        if (first.length > 0) await db.bulkDocs(first.map(docOf), { newEdits: false });
        await db.bulkDocs(second.map((h, i) => docOf(h, split + i)), { newEdits: false });
        const expected = model(second, limit, first.length > 0 ? model(first, limit) : undefined);
        const got = await stored(db);
        assert.deepEqual(got.tree, expected);
        assert.equal(got.rev, winner(expected).rev);
        // Every body the tree keeps is stored (the winner's in its record), and none other.
        const kept = [...expected].filter(([rev, node]) => node.available && rev !== got.rev).map(([rev]) => rev);
        assert.deepEqual(got.bodies, kept.sort());
        for (const rev of kept) await db.get('x', { rev });
        // In one write, a revision sent more than once keeps the body it came with first.
        if (first.length === 0) {
          for (const rev of [...kept, got.rev]) {
            const n = histories.findIndex((h) => h.path[0] === rev);
            assert.equal((await db.get('x', { rev })).n, n);
          }
        }
      } finally {
        await db.close();
      }
    }),
    { numRuns: 300 },
  );
});
