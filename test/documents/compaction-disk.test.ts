// Compaction on LevelDB: old revision bodies go, the tree stays, and the bytes on disk go down.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDb } from '../helpers/db.ts';

test('compaction reclaims disk space taken by old revision bodies', async (t) => {
  const { db, cleanup } = await freshDb('leveldb');
  t.after(cleanup);
  const pad = 'x'.repeat(4000);
  const revs = new Map<string, string>();
  for (let round = 0; round < 8; round++) {
    const docs = Array.from({ length: 150 }, (_, i) => {
      const id = `d${i}`;
      const rev = revs.get(id);
      return { _id: id, ...(rev ? { _rev: rev } : {}), round, pad: pad + round };
    });
    const res = await db.bulkDocs(docs);
    for (const r of res) if ('ok' in r) revs.set(r.id, r.rev);
  }
  // Flush everything to table files first (info() waits for queued writes), so both measurements
  // count the same way.
  await db.info();
  await db.core.store.compactRange!({ gte: '', lt: '\u007f' });
  const before = (await db.info()).sizes!.file;
  const { droppedBodies } = await db.compact();
  const after = (await db.info()).sizes!.file;
  assert.equal(droppedBodies, 150 * 7);
  assert.ok(after < before * 0.5, `disk usage ${before} -> ${after}`);
  const doc = await db.get('d3', { revs: true });
  assert.equal(doc.round, 7);
  assert.equal((doc._revisions as { ids: string[] }).ids.length, 8);
});

test('a small database reports its bytes on disk at once (the log counts), not 0 until a table is written', async (t) => {
  const { db, cleanup } = await freshDb('leveldb');
  t.after(cleanup);
  const empty = (await db.info()).sizes!;
  await db.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `s${i}`, text: 'y'.repeat(500) })));
  const written = (await db.info()).sizes!;
  assert.ok(written.file > empty.file + 10_000, `${empty.file} -> ${written.file}`);
  assert.ok(written.active > 0 && written.active <= written.file);
  // external: the live records, kept by every write; deleting and purging give the bytes back.
  assert.ok(written.external > 20 * 500, String(written.external));
  const rows = (await db.allDocs()).rows as Array<{ id: string; value: { rev: string } }>;
  await db.bulkDocs(rows.slice(0, 10).map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })));
  const deleted = (await db.info()).sizes!;
  assert.ok(deleted.external < written.external * 0.7, `${written.external} -> ${deleted.external}`);
  const leaves = await db.allDocs({ keys: rows.map((r) => r.id) });
  await db.purge(Object.fromEntries(leaves.rows.map((r) => [r.id, [(r as { value: { rev: string } }).value.rev]])));
  assert.equal((await db.info()).sizes!.external, 0);
});

test('compaction that stems histories gives their bytes back in sizes.external (it kept the old size for good)', async (t) => {
  const { db, cleanup } = await freshDb('leveldb');
  t.after(cleanup);
  const revs = new Map<string, string>();
  for (let round = 0; round < 12; round++) {
    const res = await db.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}`, ...(revs.has(`d${i}`) ? { _rev: revs.get(`d${i}`) } : {}), round })));
    for (const r of res) if ('ok' in r) revs.set(r.id, r.rev);
  }
  await db.setRevsLimit(2);
  const before = (await db.info()).sizes!.external;
  await db.compact();
  const after = (await db.info()).sizes!.external;
  assert.ok(after < before * 0.6, `${before} -> ${after}`);
  await db.purge(Object.fromEntries([...revs].map(([id, rev]) => [id, [rev]])));
  assert.equal((await db.info()).sizes!.external, 0);
});
