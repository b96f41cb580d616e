// The ReplicationPeer contract, run against every peer implementation (local, HTTP over each server):
// what the replicator relies on, checked through the peer while documents are written beside it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AttachmentBytes, type Doc } from '../../src/core.ts';
import type { ReplicationPeer } from '../../src/replication/index.ts';

export interface PeerFixture {
  peer: ReplicationPeer;
  /** An ordinary edit (new_edits true) made beside the peer; answers the new rev. */
  put(doc: Doc): Promise<string>;
  cleanup(): Promise<void>;
}

const REV_A = '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const REV_B = '2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const REV_C = '2-cccccccccccccccccccccccccccccccc';

export function peerConformance(name: string, open: () => Promise<PeerFixture>): void {
  describe(`ReplicationPeer conformance: ${name}`, () => {
    const withPeer = (title: string, fn: (f: PeerFixture, t: import('node:test').TestContext) => Promise<void>) =>
      test(title, async (t) => {
        const f = await open();
        try {
          await fn(f, t);
        } finally {
          await f.cleanup();
        }
      });

    withPeer('identity is stable and differs between databases; info tracks the update seq', async (f) => {
      const id = await f.peer.identity();
      assert.equal(await f.peer.identity(), id);
      const other = await open();
      try {
        assert.notEqual(await other.peer.identity(), id);
      } finally {
        await other.cleanup();
      }
      const before = await f.peer.info();
      await f.put({ _id: 'x' });
      const after = await f.peer.info();
      assert.notDeepEqual(after.updateSeq, before.updateSeq);
    });

    withPeer('changes: all_docs leaves, deletions, limit and resuming from lastSeq; no _local docs', async (f) => {
      const rev1 = await f.put({ _id: 'a', n: 1 });
      await f.put({ _id: 'b', n: 2 });
      await f.put({ _id: '_local/hidden', n: 3 });
      await f.put({ _id: 'a', _rev: rev1, _deleted: true });
      await f.peer.bulkDocs([{ _id: 'c', _rev: REV_A, v: 1 }, { _id: 'c', _rev: REV_B, _revisions: { start: 2, ids: ['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] } }, { _id: 'c', _rev: REV_C, _revisions: { start: 2, ids: ['cccccccccccccccccccccccccccccccc', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] } }], { newEdits: false });
      const all = await f.peer.changes({ since: 0, limit: 100, style: 'all_docs' });
      assert.deepEqual(all.results.map((r) => r.id), ['b', 'a', 'c']);
      assert.equal(all.results[1]!.deleted, true);
      assert.deepEqual(all.results[2]!.changes.map((c) => c.rev).sort(), [REV_B, REV_C]);
      const first = await f.peer.changes({ since: 0, limit: 2, style: 'all_docs' });
      assert.deepEqual(first.results.map((r) => r.id), ['b', 'a']);
      const rest = await f.peer.changes({ since: first.lastSeq, limit: 2, style: 'all_docs' });
      assert.deepEqual(rest.results.map((r) => r.id), ['c']);
      const end = await f.peer.changes({ since: rest.lastSeq, limit: 2, style: 'all_docs' });
      assert.deepEqual(end.results, []);
    });

    withPeer('changes with includeDocs carry what bulkGet answers for the winner (when declared)', async (f, t) => {
      if (f.peer.capabilities.changesDocs !== true) return t.skip('this peer does not declare changesDocs');
      const rev1 = await f.put({ _id: 'a', n: 1 });
      await f.put({ _id: 'a', _rev: rev1, n: 2 });
      await f.put({ _id: 'gone' }).then((rev) => f.put({ _id: 'gone', _rev: rev, _deleted: true }));
      await f.peer.bulkDocs([{ _id: 'c', _rev: REV_A, v: 1 }, { _id: 'c', _rev: REV_B, v: 2, _revisions: { start: 2, ids: [REV_B.slice(2), REV_A.slice(2)] } }, { _id: 'c', _rev: REV_C, v: 3, _revisions: { start: 2, ids: [REV_C.slice(2), REV_A.slice(2)] } }], { newEdits: false });
      const changes = await f.peer.changes({ since: 0, limit: 100, style: 'all_docs', includeDocs: true });
      assert.deepEqual(changes.results.map((r) => r.id), ['a', 'gone', 'c']);
      if (f.peer.capabilities.changesDocs !== true) {
        // An HTTP server without Refuge's `revs` extension: found out, and its docs left unused.
        assert.ok(changes.results.every((r) => r.doc === undefined));
        return t.skip('the server does not carry histories in changes');
      }
      for (const row of changes.results) {
        assert.ok(row.doc, `${row.id} carries its doc`);
        const fetched = await f.peer.bulkGet([{ id: row.id, rev: row.doc._rev }], { revs: true, latest: true });
        const entry = fetched.results[0]!.docs[0]!;
        assert.ok('ok' in entry);
        assert.deepEqual(row.doc, entry.ok);
      }
      assert.equal(changes.results[2]!.doc!._rev, REV_C, 'the winner of the conflict');
      const plain = await f.peer.changes({ since: 0, limit: 100, style: 'all_docs' });
      assert.ok(plain.results.every((r) => r.doc === undefined), 'no docs unless asked');
    });

    withPeer('changes filtered by doc ids and by selector', async (f) => {
      await f.put({ _id: 'k1', type: 'keep' });
      await f.put({ _id: 'd1', type: 'drop' });
      await f.put({ _id: 'k2', type: 'keep' });
      const byId = await f.peer.changes({ since: 0, limit: 10, style: 'all_docs', docIds: ['d1', 'nope'] });
      assert.deepEqual(byId.results.map((r) => r.id), ['d1']);
      const bySel = await f.peer.changes({ since: 0, limit: 10, style: 'all_docs', selector: { type: 'keep' } });
      assert.deepEqual(bySel.results.map((r) => r.id), ['k1', 'k2']);
    });

    withPeer('long-poll answers with the next write, or empty after its timeout', async (f) => {
      const { lastSeq } = await f.peer.changes({ since: 0, limit: 10, style: 'all_docs' });
      const waiting = f.peer.changes({ since: lastSeq, limit: 10, style: 'all_docs', feed: 'longpoll', timeoutMs: 30_000 });
      await f.put({ _id: 'late' });
      const got = await waiting;
      assert.deepEqual(got.results.map((r) => r.id), ['late']);
      const idle = await f.peer.changes({ since: got.lastSeq, limit: 10, style: 'all_docs', feed: 'longpoll', timeoutMs: 20 });
      assert.deepEqual(idle.results, []);
    });

    withPeer('long-poll gives up when its signal aborts', async (f) => {
      const ac = new AbortController();
      const waiting = f.peer.changes({ since: 0, limit: 10, style: 'all_docs', feed: 'longpoll', timeoutMs: 60_000, signal: ac.signal });
      ac.abort();
      // Either an empty answer or an abort error: what matters is that it ends now, not in 60 s.
      await waiting.then((r) => assert.deepEqual(r.results, []), () => undefined);
    });

    withPeer('revsDiff names missing revisions and possible ancestors', async (f) => {
      const rev1 = await f.put({ _id: 'a' });
      const diff = await f.peer.revsDiff(new Map([['a', [rev1, REV_B]], ['z', [REV_A]]]));
      assert.deepEqual(diff.get('a')?.missing, [REV_B]);
      assert.deepEqual(diff.get('a')?.possibleAncestors, [rev1]);
      assert.deepEqual(diff.get('z'), { missing: [REV_A] });
      assert.deepEqual([...diff.keys()].sort(), ['a', 'z']);
      assert.equal((await f.peer.revsDiff(new Map([['a', [rev1]]]))).size, 0);
    });

    withPeer('bulkGet with revs and latest; a missing revision is an error entry', async (f) => {
      const rev1 = await f.put({ _id: 'a/b', v: 1 });
      const rev2 = await f.put({ _id: 'a/b', _rev: rev1, v: 2 });
      await f.put({ _id: '_design/x', views: {} });
      const got = await f.peer.bulkGet(
        [{ id: 'a/b', rev: rev1 }, { id: '_design/x' }, { id: 'nope', rev: REV_A }],
        { revs: true, latest: true },
      );
      const [ab, design, nope] = got.results;
      assert.equal(ab!.id, 'a/b');
      const doc = (ab!.docs[0] as { ok: Doc }).ok;
      assert.equal(doc._rev, rev2, 'latest: the newest leaf of the branch');
      assert.deepEqual(doc._revisions, { start: 2, ids: [rev2.slice(2), rev1.slice(2)] });
      assert.equal(doc.v, 2);
      assert.equal((design!.docs[0] as { ok: Doc }).ok._id, '_design/x');
      assert.ok('error' in nope!.docs[0]!);
    });

    withPeer('bulkDocs new_edits:false keeps given revisions, conflicts included', async (f) => {
      const results = await f.peer.bulkDocs(
        [
          { _id: 'c', _rev: REV_B, v: 'b', _revisions: { start: 2, ids: [REV_B.slice(2), REV_A.slice(2)] } },
          { _id: 'c', _rev: REV_C, v: 'c', _revisions: { start: 2, ids: [REV_C.slice(2), REV_A.slice(2)] } },
        ],
        { newEdits: false },
      );
      assert.ok(results.every((r) => r.error === undefined));
      const got = await f.peer.bulkGet([{ id: 'c', rev: REV_B }, { id: 'c', rev: REV_C }], { revs: true, latest: true });
      const revs = got.results.flatMap((r) => r.docs.map((d) => ('ok' in d ? d.ok._rev : 'error')));
      assert.deepEqual(revs.sort(), [REV_B, REV_C]);
      const diff = await f.peer.revsDiff(new Map([['c', [REV_A, REV_B, REV_C]]]));
      assert.equal(diff.size, 0, 'the stub ancestor counts as known');
    });

    withPeer('attachments written with their data read back whole: base64, and AttachmentBytes where declared', async (f) => {
      const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * seed + (i >> 8)) & 255);
      const small = bytes(1000, 3);
      // Past the size from which an HTTP peer sends a document alone, as multipart.
      const large = bytes(300 * 1024, 7);
      const docs: Doc[] = [{ _id: 'att-text', _rev: REV_A, _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: Buffer.from(small).toString('base64') } } }];
      if (f.peer.capabilities.attachmentBytes) {
        const given = new AttachmentBytes(large.length, async () => (async function* () {
          for (let at = 0; at < large.length; at += 64 * 1024) yield large.subarray(at, at + 64 * 1024);
        })());
        docs.push({ _id: 'att-bytes', _rev: REV_A, kind: 'bytes', _attachments: { 'b.bin': { content_type: 'application/octet-stream', data: given } } });
      }
      const results = await f.peer.bulkDocs(docs, { newEdits: false });
      assert.deepEqual(results.filter((r) => r.error !== undefined), [], 'no write failure');
      for (const [id, name, expected] of [['att-text', 'a.bin', small], ['att-bytes', 'b.bin', large]] as const) {
        if (id === 'att-bytes' && !f.peer.capabilities.attachmentBytes) continue;
        const got = await f.peer.bulkGet([{ id, rev: REV_A }], { revs: true, latest: true });
        const entry = got.results[0]?.docs[0];
        assert.ok(entry && 'ok' in entry, `${id} is read back`);
        const data = (entry.ok._attachments as Record<string, { data?: unknown }>)[name]?.data;
        let read: Buffer | undefined;
        if (typeof data === 'string') read = Buffer.from(data, 'base64');
        else if (data instanceof AttachmentBytes) {
          const chunks: Uint8Array[] = [];
          for await (const chunk of await data.open()) chunks.push(chunk);
          read = Buffer.concat(chunks);
        }
        assert.ok(read?.equals(expected), `${id}: the same bytes`);
      }
    });

    withPeer('_local documents: missing is undefined; writes are never refused for their rev (CouchDB 2+)', async (f) => {
      assert.equal(await f.peer.getLocal('_local/cp'), undefined);
      const { rev } = await f.peer.putLocal({ _id: '_local/cp', seq: 1 });
      const doc = await f.peer.getLocal('_local/cp');
      assert.equal(doc?.seq, 1);
      assert.equal(doc?._rev, rev);
      const { rev: rev2 } = await f.peer.putLocal({ _id: '_local/cp', _rev: rev, seq: 2 });
      assert.notEqual(rev2, rev);
      // A stale rev overwrites, as CouchDB 2+ keeps no history of local documents (the checkpointer
      // also copes with servers that refuse it: PouchDB, CouchDB 1).
      await f.peer.putLocal({ _id: '_local/cp', _rev: rev, seq: 3 });
      assert.equal((await f.peer.getLocal('_local/cp'))?.seq, 3);
      await f.peer.ensureFullCommit?.();
    });
  });
}
