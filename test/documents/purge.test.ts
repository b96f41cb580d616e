// Purge on both engines: conflict branches, whole documents (gone from every read and keyspace),
// ignored revisions, purge infos bounded by purged_infos_limit, durability, and refused input.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, freshDb, tempDir } from '../helpers/db.ts';
import { isRefugeError, type Database } from '../../src/core.ts';
import { openDatabase } from '../../src/index.ts';
import { leveldbEngine } from '../../src/storage-node/index.ts';
import { removeLeaves } from '../../src/documents/purge.ts';
import { dump, traces } from '../helpers/store.ts';

const A = '1-' + 'a'.repeat(32);
const B = '1-' + 'b'.repeat(32);

async function rejectsBad(p: Promise<unknown>, reason?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isRefugeError(err, 'bad_request'), `expected bad_request, got ${String(err)}`);
    if (reason) assert.match(err.reason, reason);
    return true;
  });
}

/** A document with two conflicting leaves: `winner` (1-b…, higher) and `loser` (1-a…). */
async function conflicted(db: Database, id = 'c'): Promise<void> {
  await db.bulkDocs(
    [
      { _id: id, _rev: A, side: 'a', city: 'Oslo' },
      { _id: id, _rev: B, side: 'b', city: 'Lima' },
    ],
    { newEdits: false },
  );
}

for (const engine of ENGINES) {
  describe(`purge on ${engine}`, () => {
    test('purging the winning branch of a conflict leaves the other leaf as winner, at a new seq', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await conflicted(db);
      await db.put({ _id: 'other', x: 1 });
      assert.equal((await db.get('c'))._rev, B);
      const before = await db.info();
      const res = await db.purge({ c: [B] });
      assert.deepEqual(res, { purgeSeq: 1, purged: { c: [B] } });
      const doc = await db.get('c', { conflicts: true });
      assert.deepEqual(doc, { _id: 'c', _rev: A, side: 'a', city: 'Oslo' });
      const info = await db.info();
      assert.equal(info.purgeSeq, 1);
      assert.equal(info.docCount, 2);
      assert.equal(info.updateSeq, before.updateSeq + 1);
      // The document moved to the new sequence, as CouchDB 2.3+ does.
      const changes = await db.changes({ style: 'all_docs' });
      assert.deepEqual(changes.results.map((r) => [r.id, r.seq, r.changes]), [
        ['other', before.updateSeq, [{ rev: (await db.get('other'))._rev }]],
        ['c', info.updateSeq, [{ rev: A }]],
      ]);
      // The winner's body moved into the record: no body is left under r!, and the path index follows.
      assert.deepEqual(await db.getOpenRevs('c', 'all'), [{ ok: { _id: 'c', _rev: A, side: 'a', city: 'Oslo' } }]);
      assert.deepEqual((await dump(db)).r ?? [], []);
      const cities = [];
      for await (const row of db.query({ path: 'city', gte: 'A' })) cities.push(row.id);
      assert.deepEqual(cities, ['c']);
      assert.deepEqual((await db.find({ selector: { city: 'Oslo' } })).docs.map((d) => d._id), ['c']);
      assert.deepEqual((await db.find({ selector: { city: 'Lima' } })).docs, []);
    });

    test('purging the losing branch keeps the winner and drops the loser body', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await conflicted(db);
      assert.equal((await dump(db)).r?.length, 1);
      assert.deepEqual((await db.purge({ c: [A] })).purged, { c: [A] });
      assert.deepEqual(await db.get('c', { conflicts: true }), { _id: 'c', _rev: B, side: 'b', city: 'Lima' });
      assert.deepEqual((await dump(db)).r ?? [], []);
    });

    test('purging the only leaf removes the document everywhere, with its history', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'gone', type: 'secret', nested: { v: [1, 2] } });
      const r2 = await db.put({ _id: 'gone', _rev: r1.rev, type: 'secret', v: 2 });
      await db.put({ _id: 'kept', type: 'public' });
      const t1 = await db.put({ _id: 'tomb', type: 'secret' });
      const t2 = await db.remove('tomb', t1.rev);
      let info = await db.info();
      assert.deepEqual([info.docCount, info.docDelCount], [2, 1]);
      // A tombstone is purged like any leaf.
      const res = await db.purge({ gone: [r2.rev], tomb: [t2.rev] });
      assert.deepEqual(res, { purgeSeq: 2, purged: { gone: [r2.rev], tomb: [t2.rev] } });
      info = await db.info();
      assert.deepEqual([info.docCount, info.docDelCount, info.purgeSeq], [1, 0, 2]);
      await assert.rejects(db.get('gone'), (e: unknown) => isRefugeError(e, 'not_found'));
      await assert.rejects(db.get('gone', { rev: r1.rev }), (e: unknown) => isRefugeError(e, 'not_found'));
      assert.deepEqual((await db.allDocs()).rows.map((r) => r.id), ['kept']);
      assert.equal((await db.allDocs()).totalRows, 1);
      assert.deepEqual((await db.allDocs({ keys: ['gone'] })).rows, [{ key: 'gone', error: 'not_found' }]);
      assert.deepEqual((await db.changes()).results.map((r) => r.id), ['kept']);
      assert.deepEqual((await db.find({ selector: { type: 'secret' } })).docs, []);
      const paths = [];
      for await (const row of db.query({ path: 'type', eq: 'secret' })) paths.push(row.id);
      assert.deepEqual(paths, []);
      assert.deepEqual(await traces(db, 'gone'), []);
      assert.deepEqual(await traces(db, 'tomb'), []);
      assert.deepEqual(await db.revsDiff({ gone: [r1.rev, r2.rev] }), { gone: { missing: [r1.rev, r2.rev] } });
      // The id is free again: a new first revision is accepted.
      assert.match((await db.put({ _id: 'gone', again: true })).rev, /^1-/);
    });

    test('non-leaf, unknown and repeated revisions are ignored; the request is still recorded', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', v: 1 });
      const r2 = await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
      const seqOfA = (await db.changes()).results[0]!.seq;
      const res = await db.purge({ a: [r1.rev, '9-' + 'f'.repeat(32)], nope: [A, A], empty: [] });
      assert.deepEqual(res, { purgeSeq: 3, purged: { a: [], nope: [], empty: [] } });
      assert.deepEqual(await db.get('a'), { _id: 'a', _rev: r2.rev, v: 2 });
      assert.equal((await db.get('a', { rev: r1.rev })).v, 1);
      assert.equal((await db.changes()).results[0]!.seq, seqOfA);
      // Named leaves twice over count once.
      assert.deepEqual((await db.purge({ a: [r2.rev, r2.rev] })).purged, { a: [r2.rev] });
      assert.deepEqual(await db.purge({}), { purgeSeq: 4, purged: {} });
    });

    test('purged_infos_limit bounds the purge infos kept; it is validated', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      assert.equal(db.getPurgedInfosLimit(), 1000);
      await db.setPurgedInfosLimit(2);
      assert.equal(db.getPurgedInfosLimit(), 2);
      const docs = await db.bulkDocs([{ _id: 'x1' }, { _id: 'x2' }, { _id: 'x3' }]);
      await db.purge(Object.fromEntries(docs.map((d) => [d.id, [(d as { rev: string }).rev]])));
      let infos = (await dump(db)).p ?? [];
      assert.deepEqual(infos.map(([, v]) => JSON.parse(v).id), ['x2', 'x3']);
      await db.purge({ y: [A] });
      infos = (await dump(db)).p ?? [];
      assert.deepEqual(infos.map(([, v]) => JSON.parse(v).id), ['x3', 'y']);
      await db.setPurgedInfosLimit(1);
      infos = (await dump(db)).p ?? [];
      assert.deepEqual(infos.map(([, v]) => JSON.parse(v)), [{ id: 'y', revs: [A], seq: (await db.info()).updateSeq }]);
      for (const bad of [0, -1, 1.5, '3', null, Number.POSITIVE_INFINITY]) {
        await rejectsBad(db.setPurgedInfosLimit(bad as number), /purged_infos_limit/);
      }
      assert.equal(db.getPurgedInfosLimit(), 1);
    });

    test('malformed requests are refused whole and change nothing', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r = await db.put({ _id: 'a', v: 1 });
      const before = await dump(db);
      const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i}`, [r.rev]]));
      const cases: Array<[unknown, RegExp?]> = [
        [null],
        [[]],
        ['a'],
        [7],
        [{ a: r.rev }, /array/],
        [{ a: [r.rev], b: 'x' }, /array/],
        [{ a: [r.rev, 'garbage'] }, /Invalid rev/],
        [{ a: [r.rev, 5] }, /Invalid rev/],
        [{ a: [r.rev], '\ud800': [r.rev] }, /UTF-8/],
        [many(101), /maximum number of documents/],
        [{ a: Array.from({ length: 1001 }, (_, i) => `${i + 1}-${'a'.repeat(32)}`) }, /maximum number of revisions/],
      ];
      for (const [request, reason] of cases) await rejectsBad(db.purge(request as never), reason);
      assert.deepEqual(await dump(db), before);
      assert.equal((await db.info()).purgeSeq, 0);
      // The limits themselves are accepted.
      assert.deepEqual(Object.keys((await db.purge(many(100))).purged).length, 100);
    });
  });
}

describe('purge durability', () => {
  test('purges, purge_seq and purged_infos_limit survive a reopen on LevelDB', async (t) => {
    const dir = await tempDir();
    t.after(dir.cleanup);
    let db = await openDatabase('durable', { engine: 'leveldb', dataDir: dir.path, design: false });
    await conflicted(db);
    const solo = await db.put({ _id: 'solo', secret: true });
    await db.setPurgedInfosLimit(7);
    await db.purge({ c: [B], solo: [solo.rev] });
    const info = await db.info();
    await db.close();
    db = await openDatabase('durable', { engine: 'leveldb', dataDir: dir.path, design: false });
    t.after(() => db.close());
    const again = await db.info();
    assert.deepEqual([again.purgeSeq, again.updateSeq, again.docCount], [2, info.updateSeq, 1]);
    assert.equal(db.getPurgedInfosLimit(), 7);
    assert.equal((await db.get('c', { conflicts: true }))._rev, A);
    await assert.rejects(db.get('solo'), (e: unknown) => isRefugeError(e, 'not_found'));
    assert.deepEqual(await traces(db, 'solo'), []);
  });

  test('a database stored before purge existed opens with purge_seq 0 and the default limit', async (t) => {
    const dir = await tempDir();
    t.after(dir.cleanup);
    let db = await openDatabase('old', { engine: 'leveldb', dataDir: dir.path, design: false });
    await db.put({ _id: 'a' });
    await db.close();
    const store = await leveldbEngine().open({ location: `${dir.path}/old` });
    const state = JSON.parse((await store.get('m!info'))!);
    for (const k of ['purgeSeq', 'purgedInfosLimit', 'purgeTrimmedSeq']) delete state[k];
    await store.batch([{ type: 'put', key: 'm!info', value: JSON.stringify(state) }]);
    await store.close();
    db = await openDatabase('old', { engine: 'leveldb', dataDir: dir.path, design: false });
    t.after(() => db.close());
    assert.equal((await db.info()).purgeSeq, 0);
    assert.equal(db.getPurgedInfosLimit(), 1000);
    assert.deepEqual((await db.purge({ a: [(await db.get('a'))._rev!] })).purgeSeq, 1);
  });
});

describe('removeLeaves', () => {
  const tree = (spec: Record<string, string | null>) =>
    new Map(Object.entries(spec).map(([rev, parent]) => [rev, { parent, deleted: false, available: true }]));
  const r = (gen: number, c: string) => `${gen}-${c.repeat(4)}`;

  test('removes a branch up to where it meets another', () => {
    // 1a - 2a - 3a
    //         \ 3b - 4b
    const t0 = tree({ [r(1, 'a')]: null, [r(2, 'a')]: r(1, 'a'), [r(3, 'a')]: r(2, 'a'), [r(3, 'b')]: r(2, 'a'), [r(4, 'b')]: r(3, 'b') });
    const { tree: t1, removed } = removeLeaves(t0, [r(4, 'b'), r(2, 'a'), r(9, 'z')]);
    assert.deepEqual(removed, [r(4, 'b')]);
    assert.deepEqual([...t1.keys()].sort(), [r(1, 'a'), r(2, 'a'), r(3, 'a')]);
    const all = removeLeaves(t0, [r(3, 'a'), r(4, 'b')]);
    assert.deepEqual([...all.tree.keys()], []);
    assert.equal(removeLeaves(t0, [r(1, 'a')]).tree, t0);
  });
});
