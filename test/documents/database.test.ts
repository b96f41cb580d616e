// The document engine's behaviour on both storage engines: CRUD, conflicts, bulk semantics,
// replicated writes, local docs, allDocs, info and errors with stable codes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineFor, freshDb } from '../helpers/db.ts';
import { openDatabase } from '../../src/index.ts';
import { isRefugeError } from '../../src/core.ts';
import { dump } from '../helpers/store.ts';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isRefugeError(err), `expected RefugeError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

for (const engine of ENGINES) {
  describe(`documents on ${engine}`, () => {
    test('one document twice in one bulk write is one update: one sequence, one changes row', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.put({ _id: 'before' });
      const res = await db.bulkDocs(
        [
          { _id: 'x', _rev: '1-aaaa', _revisions: { start: 1, ids: ['aaaa'] }, n: 1 },
          { _id: 'y', _rev: '1-cccc', _revisions: { start: 1, ids: ['cccc'] } },
          { _id: 'x', _rev: '1-bbbb', _revisions: { start: 1, ids: ['bbbb'] }, n: 2 },
        ],
        { newEdits: false },
      );
      assert.equal(res.length, 3);
      assert.equal((await db.info()).updateSeq, 3);
      const changes = (await db.changes({ since: 0, style: 'all_docs' })).results;
      assert.deepEqual(changes.map((c) => [c.id, c.seq]), [['before', 1], ['x', 2], ['y', 3]]);
      assert.deepEqual(changes[1]!.changes.map((c) => c.rev).sort(), ['1-aaaa', '1-bbbb']);
      assert.equal((await db.get('x'))._rev, '1-bbbb');
      assert.equal(await db.pendingAfter(1), 2);
      // Later writes go on from there.
      await db.put({ _id: 'after' });
      assert.equal((await db.info()).updateSeq, 4);
    });

    test('a read racing a write counts only what it returns: a poller from its lastSeq misses nothing', async (t) => {
      for (const durability of ['durable', 'fast'] as const) {
        const { db, cleanup } = await freshDb(engine, { durability });
        t.after(cleanup);
        await db.put({ _id: 'seed' });
        for (let i = 0; i < 10; i++) {
          const since = (await db.info()).updateSeq;
          // The write is computed while the read waits for the writer: it may or may not be in the read.
          const write = db.put({ _id: `x${i}` });
          await null;
          const first = await db.changes({ since, limit: 100 });
          const listed = db.allDocs();
          await write;
          const rest = await db.changes({ since: first.lastSeq });
          assert.deepEqual([...first.results, ...rest.results].map((r) => r.id), [`x${i}`], `${durability} ${i}`);
          const all = await listed;
          assert.equal(all.totalRows, all.rows.length);
        }
      }
    });

    test('writes started before close() are finished, not refused; none starts after', async (t) => {
      const { db, dataDir, cleanup } = await freshDb(engine);
      t.after(cleanup);
      // A write check that answers a turn later, as validate functions and design documents do.
      db.setDesignHooks({ checkWrites: async (docs) => docs.map(() => undefined) });
      const puts = Array.from({ length: 200 }, (_, i) => db.put({ _id: `w${i}` }));
      const bulk = db.bulkDocs([{ _id: 'b1' }, { _id: '_local/l1' }, { _id: 'b2' }]);
      const closing = db.close();
      await assert.rejects(db.put({ _id: 'late' }), (e: unknown) => isRefugeError(e, 'closed'));
      const written = await Promise.all(puts);
      assert.equal(written.length, 200);
      assert.deepEqual((await bulk).map((r) => ('ok' in r ? r.id : r.error)), ['b1', '_local/l1', 'b2']);
      await closing;
      if (engine === 'memory') return;
      const again = await openDatabase('test', { engine: await engineFor(engine), dataDir, durability: 'fast' });
      t.after(() => again.close());
      assert.equal((await again.info()).docCount, 202);
      assert.equal((await again.get('_local/l1'))._id, '_local/l1');
    });

    test('put, get, update, remove, and the counts in info', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', n: 1 });
      assert.match(r1.rev, /^1-[0-9a-f]{32}$/);
      const doc = await db.get('a');
      assert.deepEqual(doc, { _id: 'a', _rev: r1.rev, n: 1 });
      const r2 = await db.put({ ...doc, n: 2 });
      assert.match(r2.rev, /^2-/);
      assert.equal((await db.get('a')).n, 2);
      let info = await db.info();
      assert.equal(info.docCount, 1);
      assert.equal(info.updateSeq, 2);
      const r3 = await db.remove('a', r2.rev);
      assert.match(r3.rev, /^3-/);
      await rejectsWith(db.get('a'), 'not_found');
      const tomb = await db.get('a', { rev: r3.rev });
      assert.equal(tomb._deleted, true);
      info = await db.info();
      assert.equal(info.docCount, 0);
      assert.equal(info.docDelCount, 1);
      assert.equal(info.updateSeq, 3);
      // An old revision stays readable until compaction.
      assert.equal((await db.get('a', { rev: r1.rev })).n, 1);
    });

    test('same edit on two databases gets the same deterministic rev', async (t) => {
      const a = await freshDb(engine);
      const b = await freshDb(engine);
      t.after(a.cleanup);
      t.after(b.cleanup);
      const ra = await a.db.put({ _id: 'x', b: 1, a: [1, { d: 2, c: 3 }] });
      const rb = await b.db.put({ a: [1, { c: 3, d: 2 }], _id: 'x', b: 1 });
      assert.equal(ra.rev, rb.rev);
    });

    test('conflicts: stale rev, missing doc with rev, non-leaf rev, create over existing', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const limit = Error.stackTraceLimit;
      const r1 = await db.put({ _id: 'a', v: 1 });
      await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
      await rejectsWith(db.put({ _id: 'a', _rev: r1.rev, v: 3 }), 'conflict');
      await rejectsWith(db.put({ _id: 'a', v: 3 }), 'conflict');
      await rejectsWith(db.put({ _id: 'nope', _rev: r1.rev }), 'conflict');
      await rejectsWith(db.remove('a', r1.rev), 'conflict');
      assert.equal((await db.get('a')).v, 2);
      // Made without a stack inside the write (a row of a bulk answer needs none), a conflict a put
      // throws is the caller's own, stack and all; the stack limit is left as it was.
      const err = await db.put({ _id: 'a', v: 4 }).then(() => undefined, (e: Error & { status?: number }) => e);
      assert.equal(err?.status, 409);
      assert.match(String(err?.stack), /\n\s+at /);
      assert.equal(Error.stackTraceLimit, limit);
      assert.deepEqual(await db.bulkDocs([{ _id: 'a', v: 5 }]), [{ id: 'a', error: 'conflict', reason: 'Document update conflict.' }]);
    });

    test('an edit names the revision it extends by _revisions as by _rev (a document read with revs=true saved again)', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await rejectsWith(db.put({ _id: 'b', _revisions: { start: 5, ids: ['a'.repeat(32)] } }), 'conflict');
      await assert.rejects(db.get('b'), (e: unknown) => isRefugeError(e, 'not_found'));
      const r1 = await db.put({ _id: 'b', v: 1 });
      const read = await db.get('b', { revs: true });
      const r2 = await db.put({ ...read, v: 2 });
      assert.match(r2.rev, /^2-/);
      const { _rev: _, ...withoutRev } = await db.get('b', { revs: true });
      assert.match((await db.put({ ...withoutRev, v: 3 })).rev, /^3-/);
      await rejectsWith(db.put({ _id: 'b', _revisions: { start: 1, ids: [r1.rev.slice(2)] }, v: 9 }), 'conflict');
      assert.equal((await db.get('b')).v, 3);
    });

    test('re-creating a deleted doc extends the deleted branch', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a' });
      const r2 = await db.remove('a', r1.rev);
      const r3 = await db.put({ _id: 'a', again: true });
      assert.match(r3.rev, /^3-/);
      const doc = await db.get('a', { revs: true });
      assert.deepEqual(doc._revisions, {
        start: 3,
        ids: [r3.rev, r2.rev, r1.rev].map((r) => r.split('-')[1]),
      });
    });

    test('a bulk write of documents named without a rev: new ones get the rev a put gives, a re-created one extends its tombstone', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const other = await freshDb(engine);
      t.after(other.cleanup);
      const r1 = await db.put({ _id: 'gone', v: 1 });
      await db.remove('gone', r1.rev);
      await db.put({ _id: 'kept', v: 1 });
      // Revs are hashed while the records are read, as if every document were new: only those
      // that are may keep that rev.
      const res = await db.bulkDocs([{ _id: 'fresh', v: 2 }, { _id: 'gone', v: 3 }, { _id: 'kept', v: 4 }, { _id: 'fresh', v: 5 }, { _id: 'dead', _deleted: true }]);
      assert.deepEqual(res[0], { ok: true, id: 'fresh', rev: (await other.db.put({ _id: 'fresh', v: 2 })).rev });
      assert.match((res[1] as { rev: string }).rev, /^3-/);
      assert.equal((await db.get('gone')).v, 3);
      assert.deepEqual(res[2], { id: 'kept', error: 'conflict', reason: 'Document update conflict.' });
      assert.deepEqual(res[3], { id: 'fresh', error: 'conflict', reason: 'Document update conflict.' });
      assert.deepEqual(res[4], { ok: true, id: 'dead', rev: (await other.db.put({ _id: 'dead', _deleted: true })).rev });
      assert.equal((await db.get('fresh')).v, 2);
    });

    test("a bulk write's edits are judged against the documents as it found them (CouchDB's prep_and_validate_updates)", async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const other = await freshDb(engine, {}, 'other');
      t.after(other.cleanup);
      const a1 = await db.put({ _id: 'a', v: 1 });
      const b1 = await db.put({ _id: 'b', v: 1 });
      // The rev the first edit of `a` makes (revs are deterministic): the second edit names it.
      await other.db.put({ _id: 'a', v: 1 });
      const a2 = (await other.db.put({ _id: 'a', _rev: a1.rev, v: 2 })).rev;
      const res = await db.bulkDocs([
        { _id: 'a', _rev: a1.rev, v: 2 },
        { _id: 'a', _rev: a2, v: 3 },
        { _id: 'b', _rev: b1.rev, _deleted: true },
        { _id: 'b', v: 'again' },
        { _id: 'c', v: 1 },
        { _id: 'c', v: 2 },
      ]);
      assert.deepEqual(
        res.map((r) => ('error' in r ? r.error : 'ok')),
        ['ok', 'conflict', 'ok', 'conflict', 'ok', 'conflict'],
      );
      assert.equal((await db.get('a')).v, 2);
      await rejectsWith(db.get('b'), 'not_found');
      // Requests of their own see each other's edits.
      assert.equal((await db.put({ _id: 'a', _rev: a2, v: 3 })).ok, true);
      assert.equal((await db.put({ _id: 'b', v: 'again' })).ok, true);
    });

    test('a deleted doc takes only a re-creation: editing or deleting its tombstone is a conflict (CouchDB 3)', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', v: 1 });
      const gone = await db.remove('a', r1.rev);
      await rejectsWith(db.put({ _id: 'a', _rev: gone.rev, v: 2 }), 'conflict');
      await rejectsWith(db.remove('a', gone.rev), 'conflict');
      await rejectsWith(db.put({ _id: 'a', _deleted: true }), 'conflict');
      assert.equal((await db.info()).updateSeq, 2, 'the refused edits changed nothing');
      // A deletion of a document never seen is a new (deleted) document, as in CouchDB.
      assert.match((await db.put({ _id: 'b', _deleted: true })).rev, /^1-/);
      assert.match((await db.put({ _id: 'a', v: 3 })).rev, /^3-/);
    });

    test('bulkDocs returns per-document results and ids are generated', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const first = await db.put({ _id: 'dup' });
      const res = await db.bulkDocs([{ v: 1 }, { _id: 'dup', v: 2 }, { _id: 'ok', v: 3 }, { _id: 'bad', _foo: 1 }, 'x' as never, { _id: 'ok', v: 4 }]);
      assert.equal(res.length, 6);
      assert.ok('ok' in res[0]! && /^[0-9a-f]{32}$/.test(res[0].id));
      assert.deepEqual(res[1], { id: 'dup', error: 'conflict', reason: 'Document update conflict.' });
      assert.ok('ok' in res[2]!);
      assert.equal((res[3] as { error: string }).error, 'doc_validation');
      assert.equal((res[4] as { error: string }).error, 'bad_request');
      assert.equal((res[5] as { error: string }).error, 'conflict');
      assert.equal((await db.info()).docCount, 3);
      assert.equal((await db.get('dup'))._rev, first.rev);
    });

    test('reserved fields and bad ids are rejected with clear codes', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await rejectsWith(db.put({ _id: 'a', _bogus: 1 }), 'doc_validation');
      await rejectsWith(db.put({ _id: '_bad' }), 'illegal_docid');
      await rejectsWith(db.put({ _id: 42 as never }), 'illegal_docid');
      await rejectsWith(db.put({ _id: '' }), 'illegal_docid');
      await rejectsWith(db.put({ _id: 'a', _rev: 'garbage' }), 'bad_request');
      await rejectsWith(db.put([] as never), 'bad_request');
      await rejectsWith(db.put({ _id: 'a', _deleted: 'yes' as never }), 'doc_validation');
      await rejectsWith(db.get('x', { rev: 'zz' }), 'bad_request');
      assert.equal((await db.info()).updateSeq, 0);
      // Design documents are ordinary replicated documents.
      await db.put({ _id: '_design/app', views: {} });
      assert.equal((await db.info()).docCount, 1);
      // The state CouchDB's replicator writes into its documents is kept in the body, in any
      // database, so `_replicator` documents replicate in from CouchDB.
      const state = { _replication_state: 'completed', _replication_state_time: '2017-04-05T19:18:15Z', _replication_id: 'x', _replication_state_reason: 'r', _replication_stats: { docs_written: 1 } };
      await db.put({ _id: 'job', source: 'a', target: 'b', ...state });
      const job = await db.get('job');
      assert.deepEqual({ ...job, _rev: undefined }, { _id: 'job', _rev: undefined, source: 'a', target: 'b', ...state });
      await rejectsWith(db.put({ _id: 'a', _replication_foo: 1 }), 'doc_validation');
    });

    test('values JSON cannot carry are refused and change nothing, in a bulk write too', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      class Point {
        x = 1;
      }
      let deep: unknown = [];
      for (let i = 0; i < 20_000; i++) deep = [deep];
      // Lone UTF-16 surrogates too, in a string or a member name: no UTF-8 carries them.
      const bad: unknown[] = [NaN, Infinity, () => 1, Symbol('s'), 10n, [1, undefined], { deep: [new Date(0)] }, new Point(), [, 1], deep, 'x\ud800', ['ok', '\udfff'], { ['\udc00']: 1 }];
      const docs: unknown[] = bad.map((v, i) => ({ _id: `bad${i}`, v }));
      docs.push({ _id: `bad${bad.length}`, ['k\ud83d']: 1 }, { _id: `bad${bad.length + 1}`, _attachments: { ['\ud800']: { content_type: 'text/plain', data: 'aGk=' } } });
      bad.push('top-level name', 'attachment name');
      const res = await db.bulkDocs([...docs, { _id: 'good', v: 1, gone: undefined, nested: { gone: undefined, kept: 2 }, pair: '\ud83d\ude00' }]);
      for (const r of res.slice(0, bad.length)) assert.equal((r as { error: string }).error, 'bad_request', JSON.stringify(r));
      assert.ok('ok' in res[bad.length]!);
      const info = await db.info();
      assert.deepEqual([info.docCount, info.updateSeq], [1, 1]);
      assert.deepEqual((await db.changes()).results.map((r) => r.id), ['good']);
      // `undefined` properties are dropped, as JSON drops them, and nothing indexes them.
      const good = await db.get('good');
      assert.deepEqual({ ...good, _rev: undefined }, { _id: 'good', _rev: undefined, v: 1, nested: { kept: 2 }, pair: '😀' });
      assert.deepEqual((await db.find({ selector: { 'nested.kept': 2 } })).docs.map((d) => d._id), ['good']);
      assert.deepEqual((await db.find({ selector: { gone: { $exists: true } } })).docs, []);
      // A whole document that is a class instance is refused as one inside a document is.
      for (const doc of [new Date(0), new Map([['_id', 'm']]), new Point()]) await rejectsWith(db.put(doc as never), 'bad_request');
      assert.equal((await db.info()).updateSeq, 1);
    });

    test('options that must be booleans are refused when they are not (a string "false" is truthy)', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await rejectsWith(db.bulkDocs([{ _id: 'x', _rev: '1-a' }], { newEdits: 'false' as never }), 'bad_request');
      assert.equal((await db.info()).updateSeq, 0);
      await db.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
      await rejectsWith(db.allDocs({ descending: 'true' as never }), 'bad_request');
      await rejectsWith(db.allDocs({ includeDocs: 1 as never }), 'bad_request');
      await rejectsWith(db.changes({ descending: 'true' as never }), 'bad_request');
      await rejectsWith(db.get('a', { revs: 'yes' as never }), 'bad_request');
      await rejectsWith(db.getOpenRevs('a', 'all', { latest: 1 as never }), 'bad_request');
      await rejectsWith(db.getOpenRevs(5 as never, 'all'), 'bad_request');
      assert.deepEqual((await db.allDocs({ descending: true })).rows.map((r) => r.id), ['b', 'a']);
    });

    test('revision generations stop at 15 digits, where numbers are still exact: past it nothing is stored', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const max = 999_999_999_999_999;
      // 2^53 + 1 reads back as 2^53: an edit's child would be no higher than its parent.
      const [big] = await db.bulkDocs([{ _id: 'big', _rev: '9007199254740993-x', v: 0 }], { newEdits: false });
      assert.equal((big as { error?: string }).error, 'bad_request');
      const [longHistory] = await db.bulkDocs([{ _id: 'big', _revisions: { start: max + 1, ids: ['x'] } }], { newEdits: false });
      assert.equal((longHistory as { error?: string }).error, 'doc_validation');
      assert.equal((await db.info()).updateSeq, 0);
      // The last generation may be stored, but not edited.
      await db.bulkDocs([{ _id: 'top', _rev: `${max}-x`, v: 0 }], { newEdits: false });
      await rejectsWith(db.put({ _id: 'top', _rev: `${max}-x`, v: 1 }), 'bad_request');
      assert.deepEqual(await db.get('top'), { _id: 'top', _rev: `${max}-x`, v: 0 });
      assert.equal((await db.info()).updateSeq, 1);
    });

    test('new_edits=false merges histories, keeps conflicts, picks the CouchDB winner', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const h = (n: number, c: string) => `${n}-${c.repeat(32)}`;
      await db.bulkDocs(
        [
          { _id: 'd', _rev: h(2, 'b'), v: 'b', _revisions: { start: 2, ids: ['b'.repeat(32), 'a'.repeat(32)] } },
          { _id: 'd', _rev: h(2, 'c'), v: 'c', _revisions: { start: 2, ids: ['c'.repeat(32), 'a'.repeat(32)] } },
        ],
        { newEdits: false },
      );
      const doc = await db.get('d', { conflicts: true });
      assert.equal(doc._rev, h(2, 'c'));
      assert.equal(doc.v, 'c');
      assert.deepEqual(doc._conflicts, [h(2, 'b')]);
      // Re-sending a known revision changes nothing (no new sequence).
      const seq = (await db.info()).updateSeq;
      await db.bulkDocs([{ _id: 'd', _rev: h(2, 'b'), v: 'b' }], { newEdits: false });
      assert.equal((await db.info()).updateSeq, seq);
      // Deleting the winner makes the other branch win, body moved from the revision store.
      await db.remove('d', h(2, 'c'));
      const after = await db.get('d', { conflicts: true, deletedConflicts: true });
      assert.equal(after._rev, h(2, 'b'));
      assert.equal(after.v, 'b');
      assert.equal(after._conflicts, undefined);
      assert.equal((after._deleted_conflicts as string[]).length, 1);
      // Updating a non-leaf revision is a conflict.
      await rejectsWith(db.put({ _id: 'd', _rev: h(1, 'a'), v: 'x' }), 'conflict');
      const open = await db.getOpenRevs('d', 'all');
      assert.equal(open.length, 2);
      const missing = await db.getOpenRevs('d', [h(1, 'a'), h(9, 'f')]);
      assert.deepEqual(missing, [{ missing: h(1, 'a') }, { missing: h(9, 'f') }]);
      const latest = await db.get('d', { rev: h(1, 'a'), latest: true });
      assert.equal(latest._rev, h(2, 'b'));
      const info = await db.get('d', { revsInfo: true });
      assert.deepEqual(info._revs_info, [
        { rev: h(2, 'b'), status: 'available' },
        { rev: h(1, 'a'), status: 'missing' },
      ]);
    });

    test('a history that links known revisions is a change: the winner it moves gets a new sequence', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const [a, b] = ['a'.repeat(32), 'b'.repeat(32)];
      await db.bulkDocs([{ _id: 'd', _rev: `1-${a}`, v: 'one' }], { newEdits: false });
      // 2-b arrives deleted with a shortened history: two roots, and the live 1-a wins.
      await db.bulkDocs([{ _id: 'd', _rev: `2-${b}`, _deleted: true, _revisions: { start: 2, ids: [b] } }], { newEdits: false });
      assert.equal((await db.get('d'))._rev, `1-${a}`);
      const before = (await db.info()).updateSeq;
      // Again with its full history: 1-a is its parent, so the deleted 2-b is the only leaf.
      await db.bulkDocs([{ _id: 'd', _rev: `2-${b}`, _deleted: true, _revisions: { start: 2, ids: [b, a] } }], { newEdits: false });
      const info = await db.info();
      assert.equal(info.updateSeq, before + 1);
      assert.deepEqual([info.docCount, info.docDelCount], [0, 1]);
      const feed = await db.changes({ since: before, includeDocs: true });
      assert.deepEqual(feed.results.map((r) => [r.id, r.seq, r.changes[0]!.rev, r.deleted === true, r.doc?._rev]), [['d', before + 1, `2-${b}`, true, `2-${b}`]]);
      // The same history once more changes nothing: no sequence.
      await db.bulkDocs([{ _id: 'd', _rev: `2-${b}`, _deleted: true, _revisions: { start: 2, ids: [b, a] } }], { newEdits: false });
      assert.equal((await db.info()).updateSeq, before + 1);
    });

    test('a stored revision re-sent with a longer history keeps its stored body, whatever the copy carries', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const [a, b, c, w] = ['a', 'b', 'c', 'f'].map((x) => x.repeat(32)) as [string, string, string, string];
      // The winner again, its history now known: only the parent link is new.
      await db.bulkDocs([{ _id: 'd', _rev: `3-${c}`, _revisions: { start: 3, ids: [c] }, v: 'stored' }], { newEdits: false });
      await db.bulkDocs([{ _id: 'd', _rev: `3-${c}`, _revisions: { start: 3, ids: [c, b, a] }, v: 'copy', _deleted: true }], { newEdits: false });
      const doc = await db.get('d', { revs: true });
      assert.equal(doc.v, 'stored');
      assert.equal((doc._revisions as { ids: string[] }).ids.length, 3);
      assert.deepEqual((await db.find({ selector: { v: 'stored' } })).docs.map((x) => x._id), ['d']);
      // A losing leaf re-sent with a history through the winner: it wins now, with its stored body.
      await db.bulkDocs([{ _id: 'e', _rev: `2-${w}`, _revisions: { start: 2, ids: [w, a] }, v: 'old winner' }], { newEdits: false });
      await db.bulkDocs([{ _id: 'e', _rev: `3-${c}`, _revisions: { start: 3, ids: [c] }, v: 'stored', _deleted: true }], { newEdits: false });
      assert.equal((await db.get('e')).v, 'old winner');
      await db.bulkDocs([{ _id: 'e', _rev: `3-${c}`, _revisions: { start: 3, ids: [c, w, a] }, v: 'copy', _deleted: true }], { newEdits: false });
      const won = await db.get('e', { rev: `3-${c}` });
      assert.deepEqual([won._deleted, won.v], [true, 'stored']);
      assert.deepEqual((await db.changes({ includeDocs: true, docIds: ['e'] })).results.map((r) => r.doc?.v), ['stored']);
    });

    test('revsDiff and bulkGet', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', v: 1 });
      const r2 = await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
      const diff = await db.revsDiff({ a: [r2.rev, '3-' + 'f'.repeat(32)], b: ['1-' + 'e'.repeat(32)] });
      assert.deepEqual(diff, {
        a: { missing: ['3-' + 'f'.repeat(32)], possibleAncestors: [r2.rev] },
        b: { missing: ['1-' + 'e'.repeat(32)] },
      });
      // Asked as a Map (as the replicator asks), answered as one, with the same entries.
      const asMap = await db.revsDiff(new Map([['a', [r1.rev, r2.rev, '3-' + 'f'.repeat(32)]], ['b', ['1-' + 'e'.repeat(32)]]]));
      assert.ok(asMap instanceof Map);
      assert.deepEqual(Object.fromEntries(asMap), diff);
      await rejectsWith(db.revsDiff(new Map([['a', ['nope']]])), 'bad_request');
      // Generation 0 parses, as in CouchDB, and no tree holds it; a negative one does not.
      assert.deepEqual(await db.revsDiff({ a: ['0-abc', r2.rev] }), { a: { missing: ['0-abc'] } });
      await rejectsWith(db.revsDiff({ a: ['-1-abc'] }), 'bad_request');
      await rejectsWith(db.revsDiff({ a: ['0-'] }), 'bad_request');
      await db.bulkDocs([{ _id: 'a', _rev: '2-' + 'c'.repeat(32), _revisions: { start: 2, ids: ['c'.repeat(32), r1.rev.slice(2)] }, _deleted: true }], { newEdits: false });
      const got = await db.bulkGet([{ id: 'a', rev: r1.rev }, { id: 'a' }, { id: 'zz' }], { revs: true });
      // No rev: every leaf, the deleted one too (CouchDB reads it as open_revs=all).
      const leavesGot = got.results[1]!.docs.map((d) => ('ok' in d ? `${d.ok._rev} ${d.ok._deleted === true}` : 'error'));
      assert.deepEqual(leavesGot.sort(), [`2-${'c'.repeat(32)} true`, `${r2.rev} false`].sort());
      got.results[1]!.docs.sort((x, y) => ('ok' in x && x.ok._deleted ? 1 : 0) - ('ok' in y && y.ok._deleted ? 1 : 0));
      assert.equal((got.results[0]!.docs[0] as { ok: { v: number } }).ok.v, 1);
      assert.deepEqual((got.results[1]!.docs[0] as { ok: { _revisions: unknown } }).ok._revisions, {
        start: 2,
        ids: [r2.rev, r1.rev].map((r) => r.split('-')[1]),
      });
      assert.equal((got.results[2]!.docs[0] as { error: { error: string } }).error.error, 'not_found');
      await rejectsWith(db.revsDiff({ a: ['nope'] }), 'bad_request');
    });

    test('revs_limit stems history; compaction drops old bodies', async (t) => {
      const { db, cleanup } = await freshDb(engine, { revsLimit: 3 });
      t.after(cleanup);
      let rev = (await db.put({ _id: 'a', n: 0 })).rev;
      const revs = [rev];
      for (let i = 1; i < 6; i++) {
        rev = (await db.put({ _id: 'a', _rev: rev, n: i })).rev;
        revs.push(rev);
      }
      const doc = await db.get('a', { revs: true });
      assert.equal((doc._revisions as { ids: string[] }).ids.length, 3);
      await assert.rejects(db.get('a', { rev: revs[0] }));
      assert.equal((await db.get('a', { rev: revs[4] })).n, 4);
      const { droppedBodies } = await db.compact();
      assert.equal(droppedBodies, 2);
      await rejectsWith(db.get('a', { rev: revs[4] }), 'not_found');
      assert.equal((await db.get('a')).n, 5);
      // A lowered limit shows at the next write, as in CouchDB: until then the histories are the
      // stored path (a replica given a cut one grafted it as a new branch beside what it had).
      await db.setRevsLimit(2);
      const before = await db.get('a', { revs: true, revsInfo: true });
      assert.equal((before._revisions as { ids: string[] }).ids.length, 3);
      assert.deepEqual((before._revs_info as Array<{ rev: string }>).map((r) => r.rev), [revs[5], revs[4], revs[3]]);
      const next = await db.put({ _id: 'a', _rev: revs[5], n: 6 });
      const cut = await db.get('a', { revs: true, revsInfo: true });
      assert.equal((cut._revisions as { ids: string[] }).ids.length, 2);
      assert.deepEqual((cut._revs_info as Array<{ rev: string }>).map((r) => r.rev), [next.rev, revs[5]]);
    });

    test('a history re-sent past revs_limit teaches nothing a reader sees: no new sequence, as in CouchDB', async (t) => {
      const { db, cleanup } = await freshDb(engine, { revsLimit: 2 });
      t.after(cleanup);
      const h = (c: string) => c.repeat(32);
      await db.bulkDocs([{ _id: 'x', _revisions: { start: 7, ids: [h('b'), h('a')] }, v: 1 }], { newEdits: false });
      const seq = (await db.info()).updateSeq;
      // 6-a's parent 5-e (and 4-f) are learnt, then stemmed away again: CouchDB's tree is unchanged.
      await db.bulkDocs([{ _id: 'x', _revisions: { start: 7, ids: [h('b'), h('a'), h('e'), h('f')] }, v: 1 }], { newEdits: false });
      assert.equal((await db.info()).updateSeq, seq);
      assert.deepEqual((await db.changes({ since: seq })).results, []);
      const doc = await db.get('x', { revs: true });
      assert.deepEqual([doc._rev, (doc._revisions as { ids: string[] }).ids], [`7-${h('b')}`, [h('b'), h('a')]]);
      // The parent learnt is kept: 5-e sent again joins under 6-a and is stemmed, not a new leaf.
      await db.bulkDocs([{ _id: 'x', _revisions: { start: 5, ids: [h('e')] }, v: 2 }], { newEdits: false });
      assert.deepEqual((await db.getOpenRevs('x', 'all')).map((r) => ('ok' in r ? r.ok._rev : r.missing)), [`7-${h('b')}`]);
    });

    test("a leaf's history is its stored path, longer than revs_limit where it shares ancestors with another leaf's (as CouchDB's stemming keeps)", async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.setRevsLimit(3);
      const h = (c: string) => c.repeat(32);
      // a1 <- a2 <- a3 <- a4 <- a5, and b4 branching from a3.
      await db.bulkDocs([{ _id: 'x', _revisions: { start: 5, ids: ['e', 'd', 'c', 'b', 'a'].map(h) } }], { newEdits: false });
      await db.bulkDocs([{ _id: 'x', _revisions: { start: 4, ids: [h('f'), h('c'), h('b'), h('a')] } }], { newEdits: false });
      // Stemming at 3 keeps each leaf's last three: e d c for the one, f c b for the other.
      const five = await db.get('x', { rev: `5-${h('e')}`, revs: true });
      assert.deepEqual((five._revisions as { ids: string[] }).ids, [h('e'), h('d'), h('c'), h('b')]);
      const four = await db.get('x', { rev: `4-${h('f')}`, revs: true });
      assert.deepEqual((four._revisions as { ids: string[] }).ids, [h('f'), h('c'), h('b')]);
    });

    test("one bulk write stems a document once, after merging all of its edits (CouchDB's merge_rev_trees)", async (t) => {
      const { db, cleanup } = await freshDb(engine, { revsLimit: 3 });
      t.after(cleanup);
      const h = (c: string) => c.repeat(32);
      const docs = [
        { _id: 'x', _revisions: { start: 1, ids: [h('a')] }, v: 'a' },
        { _id: 'x', _revisions: { start: 4, ids: ['d', 'c', 'b', 'a'].map(h) }, v: 'd' },
        // A branch from 2-b: within revs_limit of its leaf 3-e lies 1-a, which the edit before
        // would have stemmed away had it been stemmed on its own.
        { _id: 'x', _revisions: { start: 3, ids: ['e', 'b'].map(h) }, v: 'x' },
      ];
      const res = await db.bulkDocs(docs, { newEdits: false });
      assert.ok(res.every((r) => 'ok' in r), JSON.stringify(res));
      const leaf = await db.get('x', { rev: `3-${h('e')}`, revs: true });
      assert.deepEqual((leaf._revisions as { ids: string[] }).ids, ['e', 'b', 'a'].map(h));
      // 1-a keeps the body it was written with, as CouchDB's tree keeps it.
      assert.equal((await db.get('x', { rev: `1-${h('a')}` })).v, 'a');
      assert.equal((await db.get('x')).v, 'd');
      assert.equal((await db.info()).updateSeq, 1);
      // The same edits in separate writes are each stemmed as they come, as CouchDB's separate updates are.
      const apart = await freshDb(engine, { revsLimit: 3 }, 'apart');
      t.after(apart.cleanup);
      for (const doc of docs) await apart.db.bulkDocs([doc], { newEdits: false });
      const apartLeaf = await apart.db.get('x', { rev: `3-${h('e')}`, revs: true });
      assert.deepEqual((apartLeaf._revisions as { ids: string[] }).ids, ['e', 'b'].map(h));
      await rejectsWith(apart.db.get('x', { rev: `1-${h('a')}` }), 'not_found');
    });

    test('a body one edit of a bulk write stems away and a later one keeps is stored; one none keeps is not', async (t) => {
      const { db, cleanup } = await freshDb(engine, { revsLimit: 2 });
      t.after(cleanup);
      const h = (c: string) => c.repeat(32);
      // 1-a is the winner, then inner and stemmed by 3-c, then kept again by 2-e branching from it.
      await db.bulkDocs(
        [
          { _id: 'x', _revisions: { start: 1, ids: [h('a')] }, v: 'a' },
          { _id: 'x', _revisions: { start: 3, ids: ['c', 'b', 'a'].map(h) }, v: 'c' },
          { _id: 'x', _revisions: { start: 2, ids: ['e', 'a'].map(h) }, v: 'e' },
          { _id: 'z', _revisions: { start: 1, ids: [h('a')] }, v: 'a' },
          { _id: 'z', _revisions: { start: 3, ids: ['c', 'b', 'a'].map(h) }, v: 'c' },
        ],
        { newEdits: false },
      );
      assert.equal((await db.get('x', { rev: `1-${h('a')}` })).v, 'a');
      assert.deepEqual((await db.get('x', { conflicts: true }))._conflicts, [`2-${h('e')}`]);
      await rejectsWith(db.get('z', { rev: `1-${h('a')}` }), 'not_found');
      // No body is left behind for what no tree holds.
      const bodies = ((await dump(db)).r ?? []).map(([k]) => k.replace('\u0000', ' '));
      assert.deepEqual(bodies.sort(), [`r!x 1-${h('a')}`, `r!x 2-${h('e')}`]);
    });

    test('local documents: 0-N revs, never checked (CouchDB 2+), never in changes or allDocs', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: '_local/ck', seq: 1 });
      assert.equal(r1.rev, '0-1');
      const r2 = await db.put({ _id: '_local/ck', _rev: '0-1', seq: 2 });
      assert.equal(r2.rev, '0-2');
      const r3 = await db.put({ _id: '_local/ck', _rev: '0-1', seq: 3 });
      assert.equal(r3.rev, '0-2');
      assert.deepEqual(await db.get('_local/ck'), { _id: '_local/ck', _rev: '0-2', seq: 3 });
      assert.equal((await db.changes()).results.length, 0);
      assert.equal((await db.allDocs()).rows.length, 0);
      assert.equal((await db.info()).updateSeq, 0);
      await db.remove('_local/ck', '0-2');
      await rejectsWith(db.get('_local/ck'), 'not_found');
    });

    test('allDocs: ranges, descending, inclusive_end, keys, skip/limit, deleted excluded', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      for (const id of ['a', 'b', 'c', 'd', 'e']) await db.put({ _id: id, id });
      await db.remove('c', (await db.get('c'))._rev!);
      const ids = async (o: object) => (await db.allDocs(o)).rows.map((r) => r.key);
      assert.deepEqual(await ids({}), ['a', 'b', 'd', 'e']);
      assert.deepEqual(await ids({ startkey: 'b', endkey: 'd' }), ['b', 'd']);
      assert.deepEqual(await ids({ startkey: 'b', endkey: 'd', inclusiveEnd: false }), ['b']);
      assert.deepEqual(await ids({ descending: true }), ['e', 'd', 'b', 'a']);
      assert.deepEqual(await ids({ descending: true, startkey: 'd', endkey: 'b' }), ['d', 'b']);
      assert.deepEqual(await ids({ descending: true, startkey: 'd', endkey: 'b', inclusiveEnd: false }), ['d']);
      assert.deepEqual(await ids({ skip: 1, limit: 2 }), ['b', 'd']);
      assert.deepEqual(await ids({ limit: 0 }), []);
      const byKeys = await db.allDocs({ keys: ['e', 'c', 'zz'], includeDocs: true });
      assert.equal(byKeys.rows[0]!.doc!.id, 'e');
      assert.deepEqual(byKeys.rows[1]!.value, { rev: byKeys.rows[1]!.value!.rev, deleted: true });
      assert.equal(byKeys.rows[1]!.doc, null);
      assert.deepEqual(byKeys.rows[2], { key: 'zz', error: 'not_found' });
      assert.equal(byKeys.totalRows, 4);
      // As CouchDB's view_multi_key_all_docs: descending reverses the keys, then skip and limit apply.
      const reversed = await db.allDocs({ keys: ['e', 'c', 'zz', 'a'], descending: true });
      assert.deepEqual(reversed.rows.map((r) => r.key), ['a', 'zz', 'c', 'e']);
      const window = await db.allDocs({ keys: ['e', 'c', 'zz', 'a'], descending: true, skip: 2, limit: 1 });
      assert.deepEqual(window.rows.map((r) => r.key), ['c']);
      await rejectsWith(db.allDocs({ limit: -1 }), 'bad_request');
    });

    test('changes: one entry per doc at its latest seq; since, limit, descending, docIds, all_docs', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const a1 = await db.put({ _id: 'a', v: 1 });
      await db.put({ _id: 'b', v: 1 });
      await db.put({ _id: 'a', _rev: a1.rev, v: 2 });
      const all = await db.changes({ includeDocs: true });
      assert.deepEqual(all.results.map((r) => [r.seq, r.id]), [[2, 'b'], [3, 'a']]);
      assert.equal(all.results[1]!.doc!.v, 2);
      assert.equal(all.lastSeq, 3);
      assert.deepEqual((await db.changes({ since: 2 })).results.map((r) => r.id), ['a']);
      assert.deepEqual((await db.changes({ limit: 1 })).lastSeq, 2);
      assert.deepEqual((await db.changes({ descending: true })).results.map((r) => r.id), ['a', 'b']);
      assert.deepEqual((await db.changes({ docIds: ['b'] })).results.map((r) => r.id), ['b']);
      await db.bulkDocs([{ _id: 'b', _rev: '2-' + 'f'.repeat(32), _revisions: { start: 2, ids: ['f'.repeat(32), 'e'.repeat(32)] } }], { newEdits: false });
      const styled = await db.changes({ style: 'all_docs', since: 3 });
      assert.equal(styled.results[0]!.changes.length, 2);
      await rejectsWith(db.changes({ since: -1 }), 'bad_request');
    });

    test('changes with docs: revs gives their histories, maxDocBytes bounds how many carry one', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const first = await db.put({ _id: 'a', pad: 'x'.repeat(1000) });
      await db.put({ _id: 'a', _rev: first.rev, pad: 'y'.repeat(1000) });
      for (const id of ['b', 'c', 'd', 'e']) await db.put({ _id: id, pad: 'z'.repeat(1000) });
      const withRevs = await db.changes({ includeDocs: true, revs: true });
      assert.deepEqual(withRevs.results[1]!.doc, await db.get('b', { revs: true }));
      assert.equal((withRevs.results[0]!.doc!._revisions as { ids: string[] }).ids.length, 2);
      assert.equal((await db.changes({ includeDocs: true })).results[0]!.doc!._revisions, undefined);
      // Each stored doc is a little over 1,000 bytes: the one that crosses 2,500 still carries its doc.
      const bounded = await db.changes({ includeDocs: true, revs: true, maxDocBytes: 2500 });
      assert.deepEqual(bounded.results.map((r) => r.id), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(bounded.results.map((r) => r.doc !== undefined), [true, true, true, false, false]);
    });

    test('operations after close fail with code closed', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      await db.close();
      t.after(cleanup);
      await rejectsWith(db.get('a'), 'closed');
      await rejectsWith(db.put({ _id: 'a' }), 'closed');
    });

    test('long document ids work everywhere; a request naming more than 64 past 16,383 characters is refused whole', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      // Ids are not bounded (as in CouchDB by default): a long one is read, updated, deleted, diffed.
      const long = 'x'.repeat(20_000);
      const r1 = await db.put({ _id: long, v: 1 });
      await db.putLocal({ _id: `_local/${long}` });
      const r2 = await db.put({ _id: long, _rev: r1.rev, v: 2 });
      assert.deepEqual(await db.revsDiff({ [long]: [r2.rev, '9-abc'] }), { [long]: { missing: ['9-abc'], possibleAncestors: [r2.rev] } });
      assert.ok('ok' in (await db.bulkGet([{ id: long }])).results[0]!.docs[0]!);
      assert.deepEqual((await db.changes({ docIds: [long] })).results.map((r) => r.id.length), [20_000]);
      await db.remove(long, r2.rev);
      await db.removeLocal(`_local/${long}`);
      // Many of them in one request: refused before any is looked up (V8 hashes them alike).
      const many = Array.from({ length: 65 }, (_, i) => 'y'.repeat(16_384) + i);
      const refused = (e: unknown) => isRefugeError(e, 'bad_request') && /more than 64 document ids longer than 16383/.test(e.reason);
      await assert.rejects(db.bulkDocs(many.map((id) => ({ _id: id }))), refused);
      await assert.rejects(db.bulkGet(many.map((id) => ({ id }))), refused);
      await assert.rejects(db.revsDiff(Object.fromEntries(many.map((id) => [id, ['1-a']]))), refused);
      await assert.rejects(db.changes({ docIds: many }), refused);
      assert.equal((await db.bulkDocs(many.slice(0, 64).map((id) => ({ _id: id })))).filter((r) => 'ok' in r).length, 64);
    });

    test('operations on a deleted database say it does not exist (404), not that it is closed', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      await db.put({ _id: 'a' });
      await db.destroy();
      for (const op of [db.get('a'), db.put({ _id: 'b' }), db.bulkDocs([{ _id: 'c' }]), db.changes()]) {
        await assert.rejects(op, (e: unknown) => isRefugeError(e, 'not_found') && e.reason === 'Database does not exist.' && e.status === 404);
      }
    });
  });
}
