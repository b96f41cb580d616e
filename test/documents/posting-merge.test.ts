// The path index's postings in a live database: edits flushed one by one fragment a value into
// many postings, a query that meets them has them merged, compaction merges everything, and
// answers never change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, freshDb } from '../helpers/db.ts';
import type { Database } from '../../src/core.ts';
import { logicalEntries, MERGE_THRESHOLD } from '../../src/documents/postings.ts';
import { dump, postingsOf } from '../helpers/store.ts';

const idsWhere = async (db: Database, selector: object) => (await db.find({ selector, limit: 1000 })).docs.map((d) => d._id).sort();

/** Waits for the merges queued by queries so far (the merger runs them in the background). */
const mergesDone = (db: Database) => (db as unknown as { postingMerger: { idle(): Promise<void> } }).postingMerger.idle();

for (const engine of ENGINES) {
  test(`on ${engine}: a fragmented value is merged after a query meets it; compaction merges every value`, async (t) => {
    const { db, cleanup } = await freshDb(engine);
    t.after(cleanup);
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, state: 'new', n: i }));
    const revs = new Map((await db.bulkDocs(docs)).map((r) => [r.id, (r as { rev: string }).rev]));
    // One flush per edit: each leaves its own posting at 'new' (a removal) and at 'done' (edits
    // that share a flush share their postings, posting-run.test.ts).
    for (let i = 0; i < 30; i++) {
      const id = docs[i]!._id;
      const r = await db.put({ _id: id, _rev: revs.get(id), state: 'done', n: i });
      revs.set(id, r.rev);
      await db.ensureFullCommit();
    }
    const done = docs.slice(0, 30).map((d) => d._id);
    const fresh = docs.slice(30).map((d) => d._id);
    assert.equal((await postingsOf(db, 'state', 'done')).length, 30);
    assert.ok((await postingsOf(db, 'state', 'new')).length > MERGE_THRESHOLD);

    assert.deepEqual(await idsWhere(db, { state: 'done' }), done);
    assert.deepEqual(await idsWhere(db, { state: 'new' }), fresh);
    await mergesDone(db);
    assert.equal((await postingsOf(db, 'state', 'done')).length, 1);
    assert.equal((await postingsOf(db, 'state', 'new')).length, 1);
    assert.deepEqual(await idsWhere(db, { state: 'done' }), done);
    assert.deepEqual(await idsWhere(db, { state: 'new' }), fresh);
    const rows = [];
    for await (const r of db.query({ path: 'state', eq: 'new', descending: true })) rows.push(r.id);
    assert.deepEqual(rows, [...fresh].reverse());

    // Edits after the merge apply on top of it; compaction then leaves one posting per value,
    // holding additions only, and the same entries as before it.
    for (const id of done.slice(0, 5)) revs.set(id, (await db.put({ _id: id, _rev: revs.get(id), state: 'new', n: 0 })).rev);
    await db.remove(fresh[0]!, revs.get(fresh[0]!)!);
    const want = [...done.slice(0, 5), ...fresh.slice(1)].sort();
    assert.deepEqual(await idsWhere(db, { state: 'new' }), want);
    const before = logicalEntries((await dump(db)).i ?? []);
    await db.compact();
    const after = (await dump(db)).i ?? [];
    assert.deepEqual(logicalEntries(after), before);
    const prefixes = after.map(([k]) => k.slice(0, k.lastIndexOf('\u0000') + 1));
    assert.equal(new Set(prefixes).size, prefixes.length);
    for (const [, v] of after) assert.ok(v.startsWith('+') && !v.includes('\u0000-'));
    assert.deepEqual(await idsWhere(db, { state: 'new' }), want);
    assert.deepEqual(await idsWhere(db, { n: { $gte: 35 } }), fresh.slice(5));
  });
}
