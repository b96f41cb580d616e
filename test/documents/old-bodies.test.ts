// The old-body count automatic compaction goes by (Database.revisionBytes.old): the bodies kept for
// revisions that are no leaves any more. It grows as edits make leaves inner (the winner's and
// conflicting leaves'), shrinks as stemming, purge and compaction drop bodies, and never drifts
// from what compaction would really drop by more than the estimate's slack.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Database } from '../../src/index.ts';

const body = (i: number) => ({ n: i, pad: 'p'.repeat(4000) });
const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= want * 0.02 + 64, `${what}: ${got}, expected about ${want}`);

async function edits(db: Database, id: string, times: number): Promise<string[]> {
  const revs: string[] = [];
  let rev: string | undefined;
  for (let i = 0; i < times; i++) {
    rev = (await db.put({ _id: id, ...body(i), ...(rev && { _rev: rev }) })).rev;
    revs.push(rev);
  }
  return revs;
}

test('edits of a document count the bodies they leave behind; compaction takes them off', async () => {
  const db = await openDatabase('old-edits', { engine: 'memory' });
  await edits(db, 'a', 50);
  const size = JSON.stringify(body(10)).length;
  near(db.revisionBytes.old, 49 * size, 'after 50 edits');
  const { droppedBodies } = await db.compact();
  assert.equal(droppedBodies, 49);
  assert.equal(db.revisionBytes.old, 0);
  await db.close();
});

test('losing leaves count once an edit makes them inner (a deletion resolving the conflict too)', async () => {
  const db = await openDatabase('old-conflicts', { engine: 'memory' });
  const leaves = Array.from({ length: 100 }, (_, i) => ({ _id: 'c', _rev: `1-${i.toString(16).padStart(32, '0')}`, ...body(i) }));
  await db.bulkDocs(leaves, { newEdits: false });
  assert.equal(db.revisionBytes.old, 0, 'leaves are not old');
  const { _conflicts: losers } = (await db.get('c', { conflicts: true })) as { _conflicts: string[] };
  await db.bulkDocs(losers.map((rev) => ({ _id: 'c', _rev: rev, _deleted: true })));
  const size = JSON.stringify(body(1)).length;
  near(db.revisionBytes.old, 99 * size, 'after 99 losers deleted');
  assert.equal((await db.compact()).droppedBodies, 99);
  assert.equal(db.revisionBytes.old, 0);
  await db.close();
});

test('bodies stemming drops and purged ones leave the count', async () => {
  const db = await openDatabase('old-stem', { engine: 'memory', revsLimit: 2 });
  await edits(db, 's', 100);
  const size = JSON.stringify(body(1)).length;
  // revs_limit 2 keeps one inner revision, whose body is the only old one.
  near(db.revisionBytes.old, size, 'with revs_limit 2');
  assert.equal((await db.compact()).droppedBodies, 1);

  const other = await openDatabase('old-purge', { engine: 'memory' });
  const revs = await edits(other, 'p', 30);
  near(other.revisionBytes.old, 29 * size, 'before the purge');
  await other.purge({ p: [revs.at(-1)!] });
  assert.equal(other.revisionBytes.old, 0, 'a purged document leaves nothing old');
  await other.close();
  await db.close();
});

test('old bodies made while a compaction runs stay counted, whatever a purge took off meanwhile', async () => {
  const db = await openDatabase('old-during', { engine: 'memory' });
  const size = JSON.stringify(body(1)).length;
  const zz = await edits(db, 'zz', 21);
  // Enough documents that the compaction is still under way while the edits below are made.
  await db.bulkDocs(Array.from({ length: 40_000 }, (_, i) => ({ _id: `m${String(i).padStart(5, '0')}`, x: i })));
  const a0 = await edits(db, 'a0', 1);
  const running = db.compact();
  let rev = a0.at(-1)!;
  for (let i = 0; i < 20; i++) rev = (await db.put({ _id: 'a0', ...body(i), _rev: rev })).rev;
  // Bodies counted before the compaction, taken off by the purge as well as by the compaction's end.
  await db.purge({ zz: [zz.at(-1)!] });
  await running;
  const left = db.revisionBytes.old;
  const { droppedBodies } = await db.compact();
  assert.ok(left >= droppedBodies * size - 64, `counted ${left / size} bodies, a compaction then dropped ${droppedBodies}`);
  await db.close();
});

test('a losing leaf stemmed away by the history that extends it was never counted, and is not taken off', async () => {
  const db = await openDatabase('old-stem-leaf', { engine: 'memory', revsLimit: 3 });
  const size = JSON.stringify(body(1)).length;
  await edits(db, 'x', 5);
  near(db.revisionBytes.old, 2 * size, 'revs_limit 3 keeps two inner bodies of x');
  const h = (c: string) => c.repeat(32);
  await db.bulkDocs([{ _id: 'c', _rev: `1-${h('a')}`, ...body(1) }, { _id: 'c', _rev: `1-${h('b')}`, ...body(2) }], { newEdits: false });
  const loser = ((await db.get('c')) as { _rev: string })._rev.endsWith('b') ? 'a' : 'b';
  await db.bulkDocs([{ _id: 'c', _rev: `5-${h('f')}`, ...body(3), _revisions: { start: 5, ids: [h('f'), h('e'), h('d'), h('9'), h(loser)] } }], { newEdits: false });
  near(db.revisionBytes.old, 2 * size, 'unchanged by the stemmed leaf');
  assert.equal((await db.compact()).droppedBodies, 2);
  await db.close();
});
