// Records keep their revision tree as runs (rev-tree-codec.ts): each rev id stored once. Records
// of the forms earlier versions wrote are read as before, and stored in runs at their next write.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openCoreDatabase, type Database } from '../../src/core.ts';
import { openDatabase } from '../../src/index.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import type { Doc } from '../../src/documents/types.ts';
import { oldRecord, rewriteRecords, type OldForm } from '../helpers/old-records.ts';
import { tempDir } from '../helpers/db.ts';

/** The tree part of a stored record: what follows `"t":` in its head. */
async function storedTree(db: Database, id: string): Promise<string> {
  await db.info();
  const value = (await db.core.store.get(`d!${id}`))!;
  const head = value.slice(0, value.indexOf('\n'));
  return head.slice(head.indexOf(',"t":') + 5, -1);
}

async function edit(db: Database, id: string, times: number, from?: string): Promise<string> {
  let rev = from;
  for (let i = 0; i < times; i++) rev = (await db.put({ _id: id, ...(rev ? { _rev: rev } : {}), i })).rev;
  return rev!;
}

/** Everything a reader can ask of a document's revisions. */
async function reads(db: Database, id: string): Promise<unknown> {
  const doc = await db.get(id, { revs: true, revsInfo: true, conflicts: true, deletedConflicts: true }).catch((e) => e.code);
  const open = await db.getOpenRevs(id, 'all', { revs: true });
  const leaves = open.flatMap((r) => ('ok' in r ? [r.ok._rev!] : []));
  const each = await Promise.all(leaves.map((rev) => db.get(id, { rev, revs: true })));
  const diff = await db.revsDiff({ [id]: [...leaves, '1-unknown', '99-unknown'] });
  const changes = (await db.changes({ style: 'all_docs' })).results.filter((r) => r.id === id);
  return { doc, open, each, diff, changes };
}

interface Revisions {
  start: number;
  ids: string[];
}
const revisionsOf = (doc: Doc) => doc._revisions as Revisions;

/** A document with a long line stemmed at the limit, a conflicting branch and a deleted one. */
async function branchy(db: Database): Promise<void> {
  const rev = await edit(db, 'doc', 8);
  const gen = Number.parseInt(rev, 10);
  const parent = revisionsOf(await db.get('doc', { revs: true })).ids[1]!;
  await db.bulkDocs(
    [
      { _id: 'doc', _revisions: { start: gen, ids: ['c0ffee', parent] }, v: 'branch' },
      { _id: 'doc', _revisions: { start: gen, ids: ['dead', 'ignored'] }, _deleted: true },
    ],
    { newEdits: false },
  );
  await edit(db, 'line', 12);
  await db.remove('gone', await edit(db, 'gone', 2));
}

describe('stored revision trees', () => {
  test('a document edited past revs_limit keeps a record of about 36 bytes a revision, not 80', async () => {
    const db = await openCoreDatabase('hot', { revsLimit: 200 });
    try {
      await edit(db, 'counter', 300);
      const tree = await storedTree(db, 'counter');
      assert.ok(tree.length < 36.5 * 200, `${tree.length} bytes for 200 revisions`);
      assert.match(tree, /^\[101,"100-[0-9a-f]{32}","2{200}","[0-9a-f]{32}",/);
      const doc = await db.get('counter', { revs: true, revsInfo: true });
      const { start, ids } = revisionsOf(doc);
      assert.equal(ids.length, 200);
      assert.equal(start, 300);
      assert.deepEqual((doc._revs_info as unknown[])[199], { rev: `101-${ids[199]}`, status: 'available' });
    } finally {
      await db.close();
    }
  });

  for (const form of ['flat', 'object'] as OldForm[]) {
    test(`records stored in the ${form} form read as before, edit, compact and purge as records in runs`, async () => {
      const plain = await openCoreDatabase(`plain-${form}`, { revsLimit: 5 });
      const old = await openCoreDatabase(`old-${form}`, { revsLimit: 5 });
      try {
        for (const db of [plain, old]) await branchy(db);
        await rewriteRecords(old, form);
        for (const id of ['doc', 'line', 'gone']) {
          assert.equal((await storedTree(old, id))[form === 'flat' ? 1 : 0], form === 'flat' ? '"' : '{');
          assert.deepEqual(await reads(old, id), await reads(plain, id));
        }
        // Edits: the winner of a line (stemmed again), of a conflicted document, a conflict, a re-creation.
        for (const db of [plain, old]) {
          await edit(db, 'line', 3, (await db.get('line'))._rev);
          await edit(db, 'doc', 2, (await db.get('doc'))._rev);
          await db.put({ _id: 'doc', _rev: ((await db.get('doc', { conflicts: true }))._conflicts as string[])[0], v: 'loser' });
          await db.put({ _id: 'gone', v: 'back' });
        }
        for (const id of ['doc', 'line', 'gone']) {
          assert.equal((await storedTree(old, id))[1] !== '"', true, 'written again in runs');
          assert.deepEqual(await reads(old, id), await reads(plain, id));
        }
        for (const db of [plain, old]) {
          await db.compact();
          const leaves = (await db.getOpenRevs('doc', 'all')).flatMap((r) => ('ok' in r ? [r.ok._rev!] : []));
          await db.purge({ doc: [leaves.sort()[0]!] });
        }
        for (const id of ['doc', 'line', 'gone']) assert.deepEqual(await reads(old, id), await reads(plain, id));
      } finally {
        await plain.close();
        await old.close();
      }
    });
  }

  test('on disk: a database closed with records of both older forms reopens, reads and edits them', async (t) => {
    const dir = await tempDir();
    t.after(dir.cleanup);
    let db = await openDatabase('d', { engine: 'leveldb', dataDir: dir.path, design: false, revsLimit: 4 });
    const revs = { flat: await edit(db, 'flat', 6), object: await edit(db, 'object', 3) };
    const before = { flat: await db.get('flat', { revs: true }), object: await db.get('object', { revs: true }) };
    await db.close();
    const store = await leveldbEngine().open({ location: `${dir.path}/d` });
    for (const form of ['flat', 'object'] as OldForm[]) {
      await store.batch([{ type: 'put', key: `d!${form}`, value: oldRecord((await store.get(`d!${form}`))!, form) }]);
    }
    await store.close();
    db = await openDatabase('d', { engine: 'leveldb', dataDir: dir.path, design: false, revsLimit: 4 });
    t.after(() => db.close());
    for (const form of ['flat', 'object'] as const) {
      assert.deepEqual(await db.get(form, { revs: true }), before[form]);
      const rev = await edit(db, form, 3, revs[form]);
      const doc = await db.get(form, { revs: true });
      assert.equal(doc._rev, rev);
      // Three more revisions at revs_limit 4: the old leaf is the oldest one kept.
      const { start, ids } = revisionsOf(doc);
      assert.deepEqual(ids.slice(3), [revisionsOf(before[form]).ids[0]]);
      assert.equal(start, Number.parseInt(rev, 10));
      assert.equal(ids.length, 4);
      assert.match(await storedTree(db, form), /^\[\d+,/);
    }
  });
});
