// In fast mode a bulk group's ops reach the storage batch when the flush takes it, a turn later, or
// when the next group comes; either way storage ends with every write, each document's last edit last.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineFor, tempDir, type EngineName } from '../helpers/db.ts';
import { gatedEngine, ticks } from '../helpers/gated-engine.ts';
import { openDatabase } from '../../src/index.ts';
import type { Database } from '../../src/core.ts';
import { BULK_GROUP_KEYS } from '../../src/documents/kept-ops.ts';

const ids = async (db: Database, path: string, value: unknown) => {
  const out: string[] = [];
  for await (const row of db.query({ path, eq: value })) out.push(row.id);
  return out;
};

async function expectStored(db: Database, rev: string, label: string): Promise<void> {
  const doc = await db.get('d000');
  assert.equal(doc._rev, rev, `${label}: d000 holds the put's revision, not the bulk write's`);
  assert.equal(doc.v, 2, `${label}: d000 holds the put's body`);
  const changes = await db.changes({ since: 0 });
  assert.equal(changes.results.length, 300, `${label}: one changes row a document`);
  assert.deepEqual(changes.results.at(-1), { seq: 301, id: 'd000', changes: [{ rev }] }, `${label}: d000 at the put's sequence`);
  const info = await db.info();
  assert.equal(info.docCount, 300, `${label}: docCount`);
  assert.equal(info.updateSeq, 301, `${label}: updateSeq`);
  assert.deepEqual(await ids(db, 'v', 2), ['d000'], `${label}: the path index holds the put's value`);
  assert.equal((await ids(db, 'v', 1)).length, 299, `${label}: and the bulk write's for the others`);
}

/** A fast-mode database on `engine` in a temp dir, which `reopen` closes and opens again; closed and removed after the test. */
async function onDisk(t: TestContext, engine: EngineName): Promise<{ db: Database; reopen: () => Promise<Database> }> {
  const dir = await tempDir();
  const open = async () => openDatabase('kept', { engine: await engineFor(engine), dataDir: dir.path, durability: 'fast' });
  const handle = {
    db: await open(),
    reopen: async () => {
      await handle.db.close();
      return (handle.db = await open());
    },
  };
  t.after(async () => {
    await handle.db.close();
    await dir.cleanup();
  });
  return handle;
}

for (const engine of ENGINES) {
  test(`${engine}: a put computed after a bulk write, before their flush, is stored after it`, async (t) => {
    const handle = await onDisk(t, engine);
    let db = handle.db;
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, v: 1 }));
    // A record and a sequence entry a document at least: the group is a bulk one, kept for the flush.
    assert.ok(docs.length * 2 >= BULK_GROUP_KEYS, 'the bulk write is large enough for its ops to be kept');
    const written = await db.bulkDocs(docs);
    // Acknowledged, not flushed: the flush waits for the next turn, and this put is computed first.
    const put = await db.put({ _id: 'd000', _rev: (written[0] as { rev: string }).rev, v: 2 });
    await db.ensureFullCommit();
    await expectStored(db, put.rev, 'after the flush');
    if (engine === 'memory') return; // its data goes with the database
    db = await handle.reopen();
    await expectStored(db, put.rev, 'reopened');
  });
}

for (const engine of ENGINES) {
  test(`${engine}: a bulk write alone is stored by its flush`, async (t) => {
    const handle = await onDisk(t, engine);
    let db = handle.db;
    await db.bulkDocs(Array.from({ length: 300 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, v: 1 })));
    // Nothing follows it: only the flush adds its kept ops to the batch.
    await db.ensureFullCommit();
    if (engine !== 'memory') db = await handle.reopen(); // memory: nothing pending, reads are storage's
    assert.equal((await db.info()).docCount, 300, 'every document is stored');
    assert.equal((await db.changes({ since: 0 })).results.length, 300, 'each with its changes row');
    assert.equal((await ids(db, 'v', 1)).length, 300, 'and its path index entry');
  });
}

for (const engine of ENGINES.filter((e) => e !== 'memory')) {
  test(`${engine}: two bulk writes computed before their flush are both stored, the second's edits last`, async (t) => {
    const handle = await onDisk(t, engine);
    let db = handle.db;
    const first = Array.from({ length: 300 }, (_, i) => ({ _id: `a${String(i).padStart(3, '0')}`, v: 1 }));
    const revs = await db.bulkDocs(first);
    // In the same turn: 300 new documents and an edit of each of the first 150.
    const second = [
      ...Array.from({ length: 300 }, (_, i) => ({ _id: `b${String(i).padStart(3, '0')}`, v: 1 })),
      ...first.slice(0, 150).map((d, i) => ({ ...d, _rev: (revs[i] as { rev: string }).rev, v: 2 })),
    ];
    const results = await db.bulkDocs(second);
    assert.ok(results.every((r) => !('error' in r)), 'the second bulk write is accepted whole');
    await db.ensureFullCommit();
    db = await handle.reopen();
    const info = await db.info();
    assert.equal(info.docCount, 600, 'both bulk writes are stored');
    assert.equal(info.updateSeq, 750, 'every write has its sequence');
    assert.equal((await ids(db, 'v', 2)).length, 150, 'the edits are stored after the documents they edit');
    assert.equal((await db.get('a000')).v, 2, 'a000 holds its edit');
    assert.equal((await db.get('a299')).v, 1, 'a299 as first written');
    assert.equal((await db.changes({ since: 0 })).results.length, 600, 'one changes row a document');
  });
}

/** A database whose first flush is held in flight: the groups computed meanwhile queue behind it. */
async function behindHeldFlush(t: import('node:test').TestContext): Promise<{ db: Database; release: () => void }> {
  const { engine, hold, release } = gatedEngine();
  const db = await openDatabase('held', { engine, durability: 'fast' });
  t.after(async () => {
    release();
    await db.destroy();
  });
  await db.put({ _id: 'first' });
  await db.ensureFullCommit();
  hold();
  await db.put({ _id: 'second' });
  await ticks(); // its flush is under way, held
  return { db, release };
}

test('behind a flush in flight, a put after a bulk write is stored after it', async (t) => {
  const { db, release } = await behindHeldFlush(t);
  const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, v: 1 }));
  const written = await db.bulkDocs(docs);
  const put = await db.put({ _id: 'd000', _rev: (written[0] as { rev: string }).rev, v: 2 });
  release();
  await db.ensureFullCommit();
  const doc = await db.get('d000');
  assert.equal(doc._rev, put.rev, "d000 holds the put's revision, not the bulk write's");
  assert.deepEqual(await ids(db, 'v', 2), ['d000'], "the path index holds the put's value");
  const changes = await db.changes({ since: 0 });
  assert.equal(changes.results.length, 302, 'one changes row a document');
  assert.deepEqual(changes.results.at(-1), { seq: 303, id: 'd000', changes: [{ rev: put.rev }] }, "d000 at the put's sequence");
});

test('behind a flush in flight, two bulk writes are both stored', async (t) => {
  const { db, release } = await behindHeldFlush(t);
  await db.bulkDocs(Array.from({ length: 300 }, (_, i) => ({ _id: `a${String(i).padStart(3, '0')}` })));
  await db.bulkDocs(Array.from({ length: 300 }, (_, i) => ({ _id: `b${String(i).padStart(3, '0')}` })));
  release();
  await db.ensureFullCommit();
  assert.equal((await db.info()).docCount, 602, 'every document of both is stored');
  assert.equal((await db.allDocs({ keys: ['a000', 'a299', 'b000', 'b299'] })).rows.filter((r) => 'value' in r).length, 4, 'from each of them');
  assert.equal((await db.changes({ since: 0 })).results.length, 602, 'each with its changes row');
});
