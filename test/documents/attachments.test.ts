// Attachments stored as blobs: inline base64, stubs, attachments=true and atts_since, the
// attachment API, dedup of identical bytes, and replication carrying them.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, freshDb } from '../helpers/db.ts';
import { isRefugeError, replicate, LocalPeer, type Doc } from '../../src/core.ts';
import { collectBytes } from '../../src/blobs/core.ts';
import { MemoryBlobStore } from '../../src/blobs/memory.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

for (const engine of ENGINES) {
  describe(`attachments on ${engine}`, () => {
    test('an attachment for a document id that cannot be is refused before its bytes are stored', async (t) => {
      const blobs = new MemoryBlobStore();
      const { db, cleanup } = await freshDb(engine, { blobs });
      t.after(cleanup);
      for (const id of [5, '', '_bad', '_local/x']) {
        await assert.rejects(db.putAttachment(id as string, 'f', undefined, new Uint8Array([9, 9, 9])), (e: unknown) => isRefugeError(e) && /illegal_docid|bad_request/.test(e.code), String(id));
      }
      const ids = [];
      for await (const id of db.attachmentBlobIds()) ids.push(id);
      assert.deepEqual(ids, []);
      assert.deepEqual((await blobs.list()).ids, [], 'no bytes were stored');
    });

    test('an attachment may be named "error" (a write\'s refusal is told apart by its code, not by that name)', async (t) => {
      const blobs = new MemoryBlobStore();
      const { db, cleanup } = await freshDb(engine, { blobs });
      t.after(cleanup);
      const atts = { _attachments: { error: { content_type: 'text/plain', data: b64('named error') } } };
      const put = await db.put({ _id: 'x', ...atts });
      assert.equal(put.ok, true);
      const [row] = await db.bulkDocs([{ _id: 'y', ...atts }]);
      assert.ok(row && 'ok' in row && row.ok, JSON.stringify(row));
      const doc = (await db.get('y')) as Doc & { _attachments: Record<string, { length: number }> };
      assert.equal(doc._attachments.error!.length, 'named error'.length);
      const { read } = await db.getAttachment('x', 'error');
      assert.equal(Buffer.from(await collectBytes(read)).toString(), 'named error');
    });

    test('a document write refused for its id or a special member stores none of its inline attachments', async (t) => {
      const blobs = new MemoryBlobStore();
      const { db, cleanup } = await freshDb(engine, { blobs });
      t.after(cleanup);
      const atts = { _attachments: { 'f.txt': { content_type: 'text/plain', data: b64('planted') } } };
      await assert.rejects(db.put({ _id: '_config', ...atts }), (e: unknown) => isRefugeError(e, 'illegal_docid'));
      await assert.rejects(db.put({ _id: 'ok', _bogus: 1, ...atts }), (e: unknown) => isRefugeError(e, 'doc_validation'));
      const rows = await db.bulkDocs([{ _id: '_bad', ...atts }, { _id: 'fine', _rev: 'x', ...atts }]);
      assert.ok(rows.every((r) => 'error' in r), JSON.stringify(rows));
      assert.deepEqual((await blobs.list()).ids, [], 'no bytes were stored');
    });

    test('an attachment put on a revision that is no longer the latest, or on none, is a conflict before its bytes are stored', async (t) => {
      const blobs = new MemoryBlobStore();
      const { db, cleanup } = await freshDb(engine, { blobs });
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', v: 1 });
      const r2 = await db.put({ _id: 'a', _rev: r1.rev, v: 2 });
      const stored = (await blobs.list()).ids;
      await assert.rejects(db.putAttachment('a', 'f', r1.rev, new Uint8Array([7, 7, 7])), (e: unknown) => isRefugeError(e, 'conflict'));
      await assert.rejects(db.removeAttachment('a', 'f', r1.rev), (e: unknown) => isRefugeError(e, 'conflict'));
      // Nor without a revision, on a document that exists.
      await assert.rejects(db.putAttachment('a', 'f', undefined, new Uint8Array([7, 7, 7])), (e: unknown) => isRefugeError(e, 'conflict'));
      assert.deepEqual((await blobs.list()).ids, stored, 'no bytes were stored');
      // The latest revision still takes it.
      const r3 = await db.putAttachment('a', 'f', r2.rev, new Uint8Array([7, 7, 7]));
      assert.match(r3.rev, /^3-/);
    });

    test("bulkGet takes each item's atts_since, as CouchDB's _bulk_get does: only newer attachments bring their data", async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', _attachments: { 'old.txt': { content_type: 'text/plain', data: b64('old') } } });
      const doc = await db.get('a');
      const r2 = await db.put({ ...doc, _attachments: { ...(doc._attachments as object), 'new.txt': { content_type: 'text/plain', data: b64('new') } } });
      const dataOf = (d: unknown) => Object.fromEntries(Object.entries((d as { _attachments: Record<string, { data?: string }> })._attachments).map(([k, v]) => [k, v.data !== undefined]));
      const got = await db.bulkGet([{ id: 'a', rev: r2.rev, atts_since: [r1.rev] }, { id: 'a', rev: r2.rev }], { attachments: true });
      const [since, all] = got.results.map((r) => (r.docs[0] as { ok: Record<string, unknown> }).ok);
      assert.deepEqual(dataOf(since), { 'old.txt': false, 'new.txt': true });
      assert.deepEqual(dataOf(all), { 'old.txt': true, 'new.txt': true });
      // The history it needed is not handed back unasked; atts_since alone brings the newer data too.
      assert.equal(since!._revisions, undefined);
      const alone = await db.bulkGet([{ id: 'a', rev: r2.rev, atts_since: [r1.rev] }]);
      assert.deepEqual(dataOf((alone.results[0]!.docs[0] as { ok: unknown }).ok), { 'old.txt': false, 'new.txt': true });
    });

    test('inline data becomes a blob-backed stub; stubs keep it; attachments=true returns it', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'a', title: 'x', _attachments: { 'hello.txt': { content_type: 'text/plain', data: b64('hello world') } } });
      const doc = await db.get('a');
      const stub = (doc._attachments as Record<string, Record<string, unknown>>)['hello.txt']!;
      assert.deepEqual(stub, { content_type: 'text/plain', digest: stub.digest, length: 11, revpos: 1, stub: true });
      assert.match(String(stub.digest), /^sha256-[0-9a-f]{64}$/);
      // Editing the body with the stub keeps the attachment at its revpos.
      const r2 = await db.put({ ...doc, title: 'y' });
      const doc2 = await db.get('a', { attachments: true });
      const att = (doc2._attachments as Record<string, { data: string; revpos: number }>)['hello.txt']!;
      assert.equal(Buffer.from(att.data, 'base64').toString(), 'hello world');
      assert.equal(att.revpos, 1);
      // atts_since a revision that already had it: stub only.
      const since = await db.get('a', { attachments: true, attsSince: [r1.rev], revs: true });
      assert.equal((since._attachments as Record<string, { stub?: boolean }>)['hello.txt']!.stub, true);
      // New data in an edit takes the new generation as revpos, whatever revpos the client copied
      // from the old stub (a multipart PUT sends it); replicated revisions keep theirs.
      const replaced = await db.put({ _id: 'rp', _attachments: { 'x.txt': { content_type: 'text/plain', data: b64('one') } } });
      const edited = await db.put({ _id: 'rp', _rev: replaced.rev, _attachments: { 'x.txt': { content_type: 'text/plain', data: b64('two'), revpos: 1 } as never } });
      assert.equal(((await db.get('rp'))._attachments as Record<string, { revpos: number }>)['x.txt']!.revpos, 2);
      assert.match(edited.rev, /^2-/);
      // atts_since alone works the same, and the history it needed is not handed back unasked.
      const alone = await db.get('a', { attsSince: [r1.rev] });
      assert.equal((alone._attachments as Record<string, { stub?: boolean }>)['hello.txt']!.stub, true);
      assert.equal(alone._revisions, undefined);
      // A revision the document does not descend from counts for nothing: every attachment's data comes.
      for (const bogus of [`1-${'0'.repeat(32)}`, `9-${'0'.repeat(32)}`]) {
        const all = await db.get('a', { attsSince: [bogus] });
        assert.equal(typeof (all._attachments as Record<string, { data?: string }>)['hello.txt']!.data, 'string', bogus);
      }
      // Nor does an empty list, as CouchDB reads it (no ancestor found): in open_revs too.
      const none = await db.get('a', { attsSince: [] });
      assert.equal((none._attachments as Record<string, { data?: string }>)['hello.txt']!.data, b64('hello world'));
      const open = await db.getOpenRevs('a', [r2.rev], { attsSince: [] });
      assert.equal(((open[0] as { ok: Doc }).ok._attachments as Record<string, { data?: string }>)['hello.txt']!.data, b64('hello world'));
      // The attachment API.
      const { stub: s, read } = await db.getAttachment('a', 'hello.txt');
      assert.equal(s.content_type, 'text/plain');
      assert.equal(Buffer.from(await collectBytes(read)).toString(), 'hello world');
      const r3 = await db.putAttachment('a', 'more.bin', r2.rev, new Uint8Array([1, 2, 3]), 'application/octet-stream');
      assert.match(r3.rev, /^3-/);
      const names = Object.keys((await db.get('a'))._attachments as object).sort();
      assert.deepEqual(names, ['hello.txt', 'more.bin']);
      const r4 = await db.removeAttachment('a', 'hello.txt', r3.rev);
      assert.deepEqual(Object.keys((await db.get('a'))._attachments as object), ['more.bin']);
      // Old revisions still have theirs until compaction.
      assert.ok(((await db.get('a', { rev: r2.rev }))._attachments as object));
      // A document written without _attachments drops them, as CouchDB does.
      await db.put({ _id: 'a', _rev: r4.rev, title: 'plain' });
      assert.equal((await db.get('a'))._attachments, undefined);
    });

    test('bad attachments are refused with clear codes and change nothing', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const codeOf = async (p: Promise<unknown>) => {
        try {
          await p;
          return 'ok';
        } catch (e) {
          assert.ok(isRefugeError(e));
          return e.code;
        }
      };
      assert.equal(await codeOf(db.put({ _id: 'x', _attachments: { a: { data: '%%%' } } })), 'bad_request');
      // A content type is served as a header: one that cannot be is refused, inline or uploaded.
      for (const type of ['text/html\r\nX-Evil: 1', 'text/plain\n', 'text/plain; name=\u20ac', 'a\u0000b']) {
        assert.equal(await codeOf(db.put({ _id: 'x', _attachments: { a: { content_type: type, data: b64('hi') } } })), 'bad_request', JSON.stringify(type));
        assert.equal(await codeOf(db.putAttachment('x', 'a', undefined, new Uint8Array([1]), type)), 'bad_request', JSON.stringify(type));
      }
      assert.equal(await codeOf(db.put({ _id: 'x', _attachments: { a: { stub: true } } })), 'missing_stub');
      assert.equal(await codeOf(db.put({ _id: 'x', _attachments: { a: 5 } } as never)), 'doc_validation');
      assert.equal(await codeOf(db.getAttachment('nope', 'a')), 'not_found');
      assert.equal((await db.info()).updateSeq, 0);
      // A stub with another revpos than the stored attachment's names nothing (CouchDB's COUCHDB-809);
      // without one, or with the right one, it keeps the attachment.
      const made = await db.put({ _id: 's', _attachments: { f: { content_type: 'text/plain', data: b64('stub me') } } });
      assert.equal(await codeOf(db.put({ _id: 's', _rev: made.rev, _attachments: { f: { stub: true, revpos: 10 } } })), 'missing_stub');
      const kept = await db.put({ _id: 's', _rev: made.rev, n: 1, _attachments: { f: { stub: true, revpos: 1 } } });
      await db.put({ _id: 's', _rev: kept.rev, n: 2, _attachments: { f: { stub: true } } });
      assert.equal(((await db.get('s'))._attachments as Record<string, { length: number }>).f.length, 7);
    });

    test("a revision id covers each attachment's content type, as CouchDB's does: the same bytes under another type are another revision", async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const asType = (type: string) => ({ _id: `doc-${type}`, _attachments: { a: { content_type: type, data: b64('same bytes') } } });
      const plain = await db.put(asType('text/plain'));
      const html = await db.put(asType('text/html'));
      assert.notEqual(plain.rev.slice(2), html.rev.slice(2));
      // An upload of the same bytes under another type, on the same revision, makes another one too.
      const a = await db.putAttachment(`doc-text/plain`, 'b', plain.rev, new Uint8Array([1, 2]), 'text/plain');
      const twin = await db.put({ _id: 'twin', _attachments: { a: { content_type: 'text/plain', data: b64('same bytes') } } });
      const b = await db.putAttachment('twin', 'b', twin.rev, new Uint8Array([1, 2]), 'image/png');
      assert.equal(twin.rev, plain.rev, 'same edit, same revision');
      assert.notEqual(a.rev, b.rev);
    });

    test('attachmentsFollow marks the attachments that would carry data follows, unread, for a caller that streams them', async (t) => {
      const { db, cleanup } = await freshDb(engine);
      t.after(cleanup);
      const r1 = await db.put({ _id: 'f', _attachments: { 'old.txt': { content_type: 'text/plain', data: b64('old') } } });
      const doc = await db.get('f');
      await db.put({ ...doc, _attachments: { ...(doc._attachments as object), 'new.txt': { content_type: 'text/plain', data: b64('newer') } } });
      const all = (await db.get('f', { attachments: true, attachmentsFollow: true }))._attachments as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(all).sort(), ['new.txt', 'old.txt']);
      for (const a of Object.values(all)) {
        assert.equal(a.follows, true);
        assert.equal(a.data, undefined);
        assert.equal(typeof a.digest, 'string');
      }
      assert.equal(all['new.txt']!.length, 5);
      const since = (await db.get('f', { attsSince: [r1.rev], attachmentsFollow: true }))._attachments as Record<string, Record<string, unknown>>;
      assert.deepEqual([since['old.txt']!.stub, since['new.txt']!.follows], [true, true]);
      const [open] = await db.getOpenRevs('f', 'all', { attachments: true, attachmentsFollow: true });
      assert.equal(((open as { ok: { _attachments: Record<string, { follows?: boolean }> } }).ok._attachments['old.txt'])!.follows, true);
      await assert.rejects(db.get('f', { attachmentsFollow: 'yes' as never }), (e: unknown) => isRefugeError(e, 'bad_request'));
    });

    test('replication carries attachments; identical bytes are one blob', async (t) => {
      const a = await freshDb(engine);
      const b = await freshDb(engine);
      t.after(a.cleanup);
      t.after(b.cleanup);
      await a.db.bulkDocs([
        { _id: 'd1', _attachments: { f: { content_type: 'text/plain', data: b64('same bytes') } } },
        { _id: 'd2', _attachments: { g: { content_type: 'text/plain', data: b64('same bytes') } } },
      ]);
      const s1 = ((await a.db.get('d1'))._attachments as Record<string, { digest: string }>).f!.digest;
      const s2 = ((await a.db.get('d2'))._attachments as Record<string, { digest: string }>).g!.digest;
      assert.equal(s1, s2);
      const report = await replicate(new LocalPeer(a.db), new LocalPeer(b.db)).done;
      assert.equal(report.docsWritten, 2);
      const { read } = await b.db.getAttachment('d2', 'g');
      assert.equal(Buffer.from(await collectBytes(read)).toString(), 'same bytes');
      assert.equal((await b.db.get('d1'))._rev, (await a.db.get('d1'))._rev);
    });
  });
}
