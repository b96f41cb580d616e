// The replication invariant: replicas that exchanged changes both ways hold identical revision
// trees and the same winners, whatever was edited where (conflicts stay, as branches).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRefugeError, type Database } from '../../src/core.ts';
import { sync } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { assertSameTrees } from './helpers/trees.ts';

async function twoDbs() {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  return { a: a.db, b: b.db, cleanup: async () => Promise.all([a.cleanup(), b.cleanup()]) };
}

test('edits on both sides become a conflict both replicas agree on', async (t) => {
  const { a, b, cleanup } = await twoDbs();
  t.after(cleanup);
  const base = await a.put({ _id: 'doc', v: 'base' });
  await sync(a, b).done;
  const onA = await a.put({ _id: 'doc', _rev: base.rev, v: 'from a' });
  await b.put({ _id: 'doc', _rev: base.rev, v: 'from b' });
  const gone = await b.put({ _id: 'gone', v: 1 });
  await sync(a, b).done;
  await b.remove('gone', gone.rev);
  await a.put({ _id: 'doc', _rev: onA.rev, v: 'a again' });
  const { push, pull } = await sync(a, b).done;
  assert.equal(push.status, 'complete');
  assert.equal(pull.status, 'complete');

  const count = await assertSameTrees(a, b);
  assert.equal(count, 2);
  const doc = await a.get('doc', { conflicts: true });
  assert.equal(doc.v, 'a again', 'the longer branch wins on both sides');
  assert.equal((doc._conflicts as string[]).length, 1);
  await assert.rejects(a.get('gone'), (err) => isRefugeError(err, 'not_found'));
});

type Op = { side: 0 | 1; kind: 'edit' | 'delete' | 'editLeaf'; doc: number; value: number };

async function apply(db: Database, op: Op): Promise<void> {
  const id = `d${op.doc}`;
  try {
    if (op.kind === 'editLeaf') {
      const open = await db.getOpenRevs(id, 'all').catch((err) => {
        if (isRefugeError(err, 'not_found')) return [];
        throw err;
      });
      const leaves = open.flatMap((r) => ('ok' in r && !r.ok._deleted ? [r.ok] : []));
      const leaf = leaves[op.value % Math.max(1, leaves.length)];
      if (leaf) await db.put({ ...leaf, value: op.value });
      return;
    }
    let current: { _rev?: string } = {};
    try {
      current = await db.get(id);
    } catch (err) {
      if (!isRefugeError(err, 'not_found')) throw err;
      if (op.kind === 'delete') return;
    }
    if (op.kind === 'delete') await db.remove(id, current._rev!);
    else await db.put({ _id: id, ...(current._rev ? { _rev: current._rev } : {}), value: op.value });
  } catch (err) {
    if (!isRefugeError(err, 'conflict')) throw err;
  }
}

const opArb = fc.record({
  side: fc.constantFrom(0 as const, 1 as const),
  kind: fc.constantFrom('edit' as const, 'edit' as const, 'delete' as const, 'editLeaf' as const),
  doc: fc.integer({ min: 0, max: 5 }),
  value: fc.integer({ min: 0, max: 3 }),
});

test('property: random edits on both sides, synced in rounds, give identical trees', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(opArb, { maxLength: 15 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 4 }), async (rounds, batchSize) => {
      const { a, b, cleanup } = await twoDbs();
      try {
        for (const ops of rounds) {
          for (const op of ops) await apply(op.side === 0 ? a : b, op);
          await sync(a, b, { batchSize, batchesInFlight: 2 }).done;
          await assertSameTrees(a, b);
        }
      } finally {
        await cleanup();
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 40) },
  );
});
