// pouchdb-server (express-pouchdb, in memory) as a third-party CouchDB-compatible peer: PouchDB's
// replicator moves data Refuge -> pouchdb-server -> Refuge with identical revision trees, and so
// does Refuge's own replicator (src/replication) in both directions, incrementally, with conflicts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicate } from '../../src/replication/index.ts';
import type { Doc } from '../../src/core.ts';
import { PouchDB, revisionTrees, type Pouch } from './pouchdb.ts';
import { startPouchServer, type PouchServer } from './pouchdb-server.ts';
import { startTestServer, type TestServer } from './server.ts';

/**
 * express-pouchdb reads multipart bodies through multiparty, which leaves each attachment in a file
 * under os.tmpdir() for good: pointed at a directory of the test's while `fn` runs, removed after.
 */
async function withUploadsDir<T>(fn: () => Promise<T>): Promise<T> {
  const uploads = await mkdtemp(join(tmpdir(), 'pouchdb-server-uploads-'));
  const tmp = process.env.TMPDIR;
  process.env.TMPDIR = uploads;
  try {
    return await fn();
  } finally {
    if (tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmp;
    await rm(uploads, { recursive: true, force: true });
  }
}

const hex = (c: string) => c.repeat(32);

/** Writes a mixed history: plain docs, edits, a deletion, a conflict, a design doc, a local doc. */
async function seed(db: Pouch, prefix: string): Promise<void> {
  await db.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `${prefix}${String(i).padStart(2, '0')}`, i, deep: { list: [i, { k: `v${i}` }] } })));
  const first = await db.get(`${prefix}00`);
  const second = await db.put({ ...first, edited: 1 });
  await db.put({ ...first, _rev: second.rev, edited: 2 });
  await db.remove(await db.get(`${prefix}01`));
  await db.bulkDocs(
    [
      { _id: `${prefix}conflict`, _rev: '1-' + hex('a'), side: 'a' },
      { _id: `${prefix}conflict`, _rev: '2-' + hex('c'), _revisions: { start: 2, ids: [hex('c'), hex('b')] }, side: 'c' },
    ],
    { new_edits: false },
  );
  await db.put({ _id: `_design/${prefix}`, views: { all: { map: 'function (doc) { emit(doc._id); }' } } });
  await db.put({ _id: `_local/${prefix}`, note: 'not replicated' });
}

describe('pouchdb-server as a peer', () => {
  let refuge: TestServer;
  let ps: PouchServer;
  const opened: Pouch[] = [];
  const open = (url: string) => {
    const db = new PouchDB(url);
    opened.push(db);
    return db;
  };

  before(async () => {
    [refuge, ps] = await Promise.all([startTestServer(), startPouchServer()]);
  });
  after(async () => {
    for (const db of opened) await db.close();
    await refuge.close();
    await ps.close();
  });

  test('pouchdb-server answers like CouchDB', async () => {
    const res = await fetch(`${ps.url}/`);
    const welcome = (await res.json()) as Record<string, unknown>;
    assert.equal(welcome['express-pouchdb'], 'Welcome!');
  });

  test('PouchDB replicates Refuge -> pouchdb-server -> Refuge with identical trees', async () => {
    const source = open(`${refuge.url}/pp-source`);
    await seed(source, 'r');
    const toPs = await PouchDB.replicate(`${refuge.url}/pp-source`, `${ps.url}/pp-copy`);
    assert.equal(toPs.ok, true);
    assert.equal(toPs.doc_write_failures, 0);
    const back = await PouchDB.replicate(`${ps.url}/pp-copy`, `${refuge.url}/pp-back`);
    assert.equal(back.ok, true);
    assert.equal(back.doc_write_failures, 0);
    const [a, b, c] = await Promise.all([source, open(`${ps.url}/pp-copy`), open(`${refuge.url}/pp-back`)].map(revisionTrees));
    assert.equal(Object.keys(a!).length, 42);
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.equal((a!.rconflict as { conflicts: string[] }).conflicts.length, 1);
    await assert.rejects(open(`${ps.url}/pp-copy`).get('_local/r'), (err: any) => err.status === 404);
  });

  test('PouchDB replicates data born on pouchdb-server into Refuge', async () => {
    const origin = open(`${ps.url}/pp-origin`);
    await seed(origin, 'p');
    const res = await PouchDB.replicate(`${ps.url}/pp-origin`, `${refuge.url}/pp-into`);
    assert.equal(res.doc_write_failures, 0);
    assert.deepEqual(await revisionTrees(open(`${refuge.url}/pp-into`)), await revisionTrees(origin));
  });

  test("Refuge's replicator writes documents with large attachments to pouchdb-server as multipart/related", async () => {
    const local = await refuge.node.createDb('rr-attachments');
    // Past 1 MiB: read back from pouchdb-server attachment by attachment, as it is written.
    const big = Buffer.from(Array.from({ length: 1200 * 1024 }, (_, i) => (i * 13 + (i >> 9)) & 255));
    const first = await local.put({ _id: 'film', _attachments: { 'film.bin': { content_type: 'application/octet-stream', data: big.toString('base64') }, 'cast.txt': { content_type: 'text/plain', data: btoa('cast') } } });
    await local.put({ _id: 'film', _rev: first.rev, seen: true, _attachments: { 'film.bin': { stub: true }, 'cast.txt': { stub: true } } });
    await local.put({ _id: 'plain', n: 1 });
    const out = await withUploadsDir(() => replicate(local, `${ps.url}/rr-attachments`, { createTarget: true }).done);
    assert.equal(out.docWriteFailures, 0, JSON.stringify(out));
    assert.equal(out.docsWritten, 2);
    const copy = open(`${ps.url}/rr-attachments`);
    const film = (await copy.get('film', { attachments: true, binary: true, revs: true })) as unknown as { seen: boolean; _attachments: Record<string, { data: Buffer }> };
    assert.equal(film.seen, true, 'the latest revision');
    assert.ok(Buffer.from(film._attachments['film.bin']!.data).equals(big), 'the large attachment, byte for byte');
    assert.equal(Buffer.from(film._attachments['cast.txt']!.data).toString(), 'cast', 'its small sibling');
    // The same revision history (digests differ: PouchDB names bytes by MD5, Refuge by SHA-256).
    const mine = await local.get('film', { revs: true });
    assert.deepEqual([(film as unknown as Doc)._rev, (film as unknown as Doc)._revisions], [mine._rev, mine._revisions]);

    // An edit that keeps the attachments: PouchDB's revs_diff names no possible ancestors, so no
    // stubs are sent (they would name this node's SHA-256 digests, where PouchDB keeps MD5s).
    await local.put({ ...(await local.get('film')), seen: 2 });
    const edit = await withUploadsDir(() => replicate(local, `${ps.url}/rr-attachments`).done);
    assert.deepEqual([edit.docsWritten, edit.docWriteFailures], [1, 0], JSON.stringify(edit));
    const edited = (await copy.get('film', { attachments: true, binary: true })) as unknown as { seen: number; _attachments: Record<string, { data: Buffer }> };
    assert.equal(edited.seen, 2);
    assert.ok(Buffer.from(edited._attachments['film.bin']!.data).equals(big), 'the attachment, still whole');

    // And back from pouchdb-server into a new Refuge database.
    const back = await replicate(`${ps.url}/rr-attachments`, `${refuge.url}/rr-attachments-back`, { createTarget: true }).done;
    assert.equal(back.docWriteFailures, 0, JSON.stringify(back));
    const returned = await refuge.node.db('rr-attachments-back');
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await returned.getAttachment('film', 'film.bin')).read) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(big), 'the large attachment came back byte for byte');
    assert.equal((await returned.get('film', { revs: true }))._rev, (await local.get('film'))._rev, 'the same revision');
  });

  test("Refuge's replicator: Refuge -> pouchdb-server and back, incrementally, with a conflict", async () => {
    const source = open(`${refuge.url}/rr-source`);
    await seed(source, 'q');
    const local = await refuge.node.db('rr-source');
    // Local database -> pouchdb-server over HTTP (the target is created).
    const out = await replicate(local, `${ps.url}/rr-copy`, { createTarget: true }).done;
    assert.equal(out.status, 'complete');
    assert.equal(out.docWriteFailures, 0);
    const copy = open(`${ps.url}/rr-copy`);
    assert.deepEqual(await revisionTrees(copy), await revisionTrees(source));

    // pouchdb-server -> Refuge, HTTP on both ends.
    const back = await replicate(`${ps.url}/rr-copy`, `${refuge.url}/rr-back`, { createTarget: true }).done;
    assert.equal(back.docWriteFailures, 0);
    const backDb = open(`${refuge.url}/rr-back`);
    assert.deepEqual(await revisionTrees(backDb), await revisionTrees(source));

    // Concurrent edits of one document on both sides, plus new docs and a deletion on each.
    const q02 = await source.get('q02');
    await source.put({ ...q02, by: 'refuge' });
    await copy.put({ ...q02, by: 'pouchdb-server' });
    await source.put({ _id: 'q-new-refuge' });
    await copy.put({ _id: 'q-new-ps' });
    await copy.remove(await copy.get('q03'));
    const again = await replicate(local, `${ps.url}/rr-copy`).done;
    assert.equal(again.docsWritten, 2);
    const pulled = await replicate(`${ps.url}/rr-copy`, local).done;
    assert.equal(pulled.docWriteFailures, 0);
    const [t1, t2] = await Promise.all([revisionTrees(source), revisionTrees(copy)]);
    assert.deepEqual(t2, t1);
    const q02Tree = t1.q02 as { conflicts: string[]; leaves: unknown[] };
    assert.equal(q02Tree.leaves.length, 2);
    assert.equal(q02Tree.conflicts.length, 1);
    assert.equal((t1.q03 as { deleted: boolean }).deleted, true);
    assert.ok('q-new-ps' in t1 && 'q-new-refuge' in t2);
  });
});
