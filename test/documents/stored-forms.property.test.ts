// Two databases given the same random edits (local ones, conflicts, replicated branches, bulk
// writes naming one document twice, revs_limit changes, compaction, purge): one as it runs, where
// an edit of a line's leaf is made on the stored text (rev-line.ts), the other with every record
// rewritten before each step in a form earlier versions stored (the flat array, the object), so
// every edit of it goes the general way. Both must answer and store the same, step after step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRefugeError, openCoreDatabase, type Database } from '../../src/core.ts';
import { decodeBody, decodeMeta } from '../../src/documents/doc-record.ts';
import { computeRev } from '../../src/documents/rev-id.ts';
import type { Rev } from '../../src/documents/rev-tree.ts';
import { dump } from '../helpers/store.ts';
import { rewriteRecords, type OldForm } from '../helpers/old-records.ts';

const IDS = ['a', 'b'];

type Step =
  | { t: 'edit'; id: string; deleted: boolean; viaRevisions: boolean }
  | { t: 'editLeaf'; id: string; pick: number; deleted: boolean }
  | { t: 'stale'; id: string; pick: number }
  | { t: 'branch'; id: string; pick: number; deleted: boolean }
  | { t: 'bulkTwice'; id: string; replicated: boolean }
  | { t: 'together'; id: string; branch: boolean }
  | { t: 'limit'; n: number }
  | { t: 'compact' }
  | { t: 'purge'; id: string; pick: number };

const idArb = fc.constantFrom(...IDS);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('edit' as const), id: idArb, deleted: fc.integer({ min: 0, max: 4 }).map((x) => x === 0), viaRevisions: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('editLeaf' as const), id: idArb, pick: fc.nat(), deleted: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), id: idArb, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('branch' as const), id: idArb, pick: fc.nat(), deleted: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('bulkTwice' as const), id: idArb, replicated: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('together' as const), id: idArb, branch: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('limit' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('purge' as const), id: idArb, pick: fc.nat() }) },
);

const outcome = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    return await p;
  } catch (err) {
    if (isRefugeError(err)) return { error: err.code, reason: err.reason };
    throw err;
  }
};

async function leavesOf(db: Database, id: string): Promise<Rev[]> {
  try {
    const rows = await db.getOpenRevs(id, 'all');
    return rows.flatMap((r) => ('ok' in r ? [r.ok._rev!] : [])).sort();
  } catch {
    return [];
  }
}

/** Steps made concrete from what the database holds now (the same in both). */
async function run(db: Database, step: Step, n: number): Promise<unknown> {
  if (step.t === 'limit') return outcome(db.setRevsLimit(step.n));
  if (step.t === 'compact') return outcome(db.compact());
  const id = step.id;
  const current = (await outcome(db.get(id, { revs: true }))) as { _rev?: Rev; _revisions?: { start: number; ids: string[] }; error?: string };
  const leaves = await leavesOf(db, id);
  const history = current._revisions ? current._revisions.ids.map((h, i) => `${current._revisions!.start - i}-${h}`) : [];
  switch (step.t) {
    case 'edit': {
      if (current.error) return outcome(db.put({ _id: id, n }));
      const doc = step.viaRevisions ? { ...current, n } : { _id: id, _rev: current._rev, n };
      return outcome(db.put(step.deleted ? { ...doc, _deleted: true } : doc));
    }
    case 'editLeaf': {
      if (leaves.length === 0) return undefined;
      const rev = leaves[step.pick % leaves.length]!;
      return outcome(db.put({ _id: id, _rev: rev, n, ...(step.deleted ? { _deleted: true } : {}) }));
    }
    case 'stale':
      if (history.length < 2) return undefined;
      return outcome(db.put({ _id: id, _rev: history[1 + (step.pick % (history.length - 1))], n }));
    case 'branch': {
      if (history.length === 0) return undefined;
      const from = step.pick % history.length;
      const base = history.slice(from);
      const start = Number.parseInt(base[0]!, 10) + 1;
      const ids = [`b${n}`, ...base.map((r) => r.slice(r.indexOf('-') + 1))];
      return outcome(db.bulkDocs([{ _id: id, _revisions: { start, ids }, n, ...(step.deleted ? { _deleted: true } : {}) }], { newEdits: false }));
    }
    case 'bulkTwice': {
      if (current.error) return undefined;
      if (!step.replicated) return outcome(db.bulkDocs([{ _id: id, _rev: current._rev, n }, { _id: id, _rev: current._rev, n: -n }]));
      const ids = history.map((r) => r.slice(r.indexOf('-') + 1));
      const start = Number.parseInt(history[0]!, 10);
      return outcome(
        db.bulkDocs(
          [
            { _id: id, _revisions: { start: start + 1, ids: [`x${n}`, ...ids] }, n },
            { _id: id, _revisions: { start: start + 2, ids: [`y${n}`, `x${n}`, ...ids] }, n: -n },
          ],
          { newEdits: false },
        ),
      );
    }
    case 'together': {
      // Two requests queued behind a third (of another document), so that both are applied in
      // one write group: the second extends the revision the first makes, or replicates a branch
      // from the oldest revision kept, which the first one's stemming may drop.
      if (current.error) return undefined;
      const next = computeRev(current._rev!, false, { n });
      const oldest = history[history.length - 1]!;
      const branch = { start: Number.parseInt(oldest, 10) + 1, ids: [`t${n}`, oldest.slice(oldest.indexOf('-') + 1)] };
      return Promise.all([
        outcome(db.put({ _id: 'other', n })),
        outcome(db.put({ _id: id, _rev: current._rev, n })),
        outcome(step.branch ? db.bulkDocs([{ _id: id, _revisions: branch, n }], { newEdits: false }) : db.put({ _id: id, _rev: next, n: n + 1 })),
      ]);
    }
    case 'purge':
      if (leaves.length === 0) return undefined;
      return outcome(db.purge({ [id]: [leaves[step.pick % leaves.length]!] }));
  }
}

/** Everything either database answers or stores, the trees' stored forms and sizes aside. */
async function view(db: Database): Promise<unknown> {
  const all = await dump(db);
  const records = (all.d ?? []).map(([k, v]) => {
    const m = decodeMeta(v);
    return [k, m.rev, m.deleted, m.seq, [...m.tree].sort(([x], [y]) => (x < y ? -1 : 1)), decodeBody(v)];
  });
  const docs = [];
  for (const id of IDS) {
    docs.push(await outcome(db.get(id, { revs: true, revsInfo: true, conflicts: true, deletedConflicts: true })));
    docs.push(await outcome(db.getOpenRevs(id, 'all', { revs: true })));
  }
  // Record sizes differ with the trees' forms; the start time with the database.
  const { liveBytes: _, instanceStartTime: __, ...state } = db.core.state;
  const info = await db.info();
  return {
    records,
    bodies: all.r ?? [],
    seqs: all.s ?? [],
    index: all.i ?? [],
    docs,
    changes: (await db.changes({ style: 'all_docs' })).results,
    counts: [info.docCount, info.docDelCount, info.updateSeq],
    state,
  };
}

let dbs = 0;

test('edits made on a line\'s stored text answer and store as edits of the tree, records of older forms included', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.constantFrom<OldForm>('flat', 'object'), fc.integer({ min: 1, max: 5 }), async (steps, form, limit) => {
      const fast = await openCoreDatabase(`forms-fast-${dbs}`, { revsLimit: limit });
      const slow = await openCoreDatabase(`forms-slow-${dbs++}`, { revsLimit: limit });
      try {
        for (let i = 0; i < steps.length; i++) {
          await rewriteRecords(slow, form);
          const a = await run(fast, steps[i]!, i);
          const b = await run(slow, steps[i]!, i);
          assert.deepEqual(a, b, `step ${i}: ${JSON.stringify(steps[i])}`);
          assert.deepEqual(await view(fast), await view(slow), `after step ${i}: ${JSON.stringify(steps[i])}`);
        }
      } finally {
        await fast.close();
        await slow.close();
      }
    }),
    { numRuns: 100 },
  );
});
