// A database's sizes count the attachments of its documents' winning revisions, as CouchDB 3.5's
// do (its chttpd_db_attachment_size_tests, in spirit): adding one adds its bytes, removing it,
// deleting or purging its document takes them away, a deletion that keeps one keeps its bytes.
// The blobs are the node's, shared by every database; the bytes are each document's.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/index.ts';
import type { Database } from '../../src/documents/index.ts';
import { MemoryBlobStore } from '../../src/blobs/index.ts';
import { tempDir } from '../helpers/db.ts';

const KB10 = 10_000;
const bytes = (n: number, fill: string) => new Uint8Array(Buffer.alloc(n, fill));

async function sizes(db: Database): Promise<{ file: number; active: number; external: number }> {
  return (await db.info()).sizes!;
}

/**
 * Each of the three sizes holds `atts` bytes of attachments and little else: external (the records'
 * bytes) less than 2 KB, as in CouchDB's tests; active and file what the engine estimates or takes
 * on disk for its own keys (LevelDB's tables, its log and manifest) besides.
 */
async function holds(db: Database, atts: number, what: string): Promise<void> {
  const s = await sizes(db);
  const engine = (await db.info()).engine;
  const slack = { external: 2000, active: engine === 'memory' ? 2000 : 16 * 1024, file: engine === 'memory' ? 2000 : 64 * 1024 };
  for (const key of ['external', 'active', 'file'] as const) {
    assert.ok(s[key] >= atts && s[key] < atts + slack[key], `${what}: sizes.${key} ${s[key]} holds ${atts} attachment bytes`);
  }
}

for (const engine of ['memory', 'leveldb'] as const) {
  test(`attachments count in a database's sizes (${engine}): added, removed, deleted with the document, kept by a deletion`, async (t) => {
    const dir = await tempDir('refuge-att-sizes-');
    const blobs = new MemoryBlobStore();
    const db = await openDatabase('sizes', { engine, dataDir: dir.path, durability: 'fast', blobs });
    t.after(async () => {
      await db.close();
      await blobs.close();
      await dir.cleanup();
    });
    if (engine === 'memory') await holds(db, 0, 'empty');
    const r1 = await db.putAttachment('doc1', 'att1', undefined, bytes(KB10, 'a'), 'app/binary');
    await holds(db, KB10, 'one attachment');
    const r2 = await db.putAttachment('doc1', 'att2', r1.rev, bytes(KB10, 'b'), 'app/binary');
    await holds(db, 2 * KB10, 'two attachments');
    const r3 = await db.removeAttachment('doc1', 'att1', r2.rev);
    await holds(db, KB10, 'one removed');
    await db.remove('doc1', r3.rev);
    await holds(db, 0, 'the document deleted');

    // Deleted with its body and one attachment kept (CouchDB's t_delete_doc_but_keep_attachment).
    const k1 = await db.putAttachment('doc2', 'att1', undefined, bytes(KB10, 'c'), 'app/binary');
    const k2 = await db.putAttachment('doc2', 'att2', k1.rev, bytes(KB10, 'd'), 'app/binary');
    const doc = (await db.get('doc2', { rev: k2.rev })) as { _attachments: Record<string, unknown> };
    delete doc._attachments.att1;
    await db.put({ ...doc, _deleted: true });
    await holds(db, KB10, 'deleted, one attachment kept');

    // Inline data in a bulk write, and the same bytes in two documents: each document counts them.
    const inline = { content_type: 'text/plain', data: Buffer.alloc(KB10, 'e').toString('base64') };
    await db.bulkDocs([{ _id: 'x', _attachments: { f: inline } }, { _id: 'y', _attachments: { f: inline } }]);
    await holds(db, 3 * KB10, 'the same bytes in two more documents');

    // Compaction drops old bodies, not winners' attachments; a purge drops its document's.
    await db.compact();
    await holds(db, 3 * KB10, 'after compaction');
    const y = (await db.get('y')) as { _rev: string };
    await db.purge({ y: [y._rev] });
    await holds(db, 2 * KB10, 'one purged');
  });
}

/**
 * A LevelDB database `name` in a temp dir holding `docs`, closed, its stored counters (`m!info`) then
 * rewritten by `edit`, as a killed process or an earlier version left them; answers it opened again.
 */
async function reopenedWithCounters(
  t: TestContext,
  docs: object[],
  edit: (meta: Record<string, unknown>) => Record<string, unknown>,
): Promise<{ db: Database; location: string }> {
  const { leveldbEngine } = await import('../../src/storage-node/index.ts');
  const dir = await tempDir('refuge-att-sizes-counters-');
  const blobs = new MemoryBlobStore();
  let db: Database | undefined;
  // One hook, in this order: the database closes before its directory goes.
  t.after(async () => {
    await db?.close();
    await blobs.close();
    await dir.cleanup();
  });
  const first = await openDatabase('c', { dataDir: dir.path, blobs });
  await first.bulkDocs(docs);
  await first.close();
  const location = `${dir.path}/c`;
  const store = await leveldbEngine().open({ location });
  const meta = JSON.parse((await store.get('m!info'))!) as Record<string, unknown>;
  await store.batch([{ type: 'put', key: 'm!info', value: JSON.stringify(edit(meta)) }], { sync: true });
  await store.close();
  db = await openDatabase('c', { dataDir: dir.path, blobs });
  return { db, location };
}

const inline = (n: number) => ({ content_type: 'app/binary', data: Buffer.alloc(n, 'z').toString('base64') });

test('a recount (storage dropped damaged data) counts attachment bytes again from the records', async (t) => {
  const docs = [{ _id: 'a', _attachments: { f: inline(KB10) } }, { _id: 'b', _attachments: { f: inline(KB10), g: inline(KB10) } }, { _id: 'c' }];
  const { db } = await reopenedWithCounters(t, docs, (meta) => {
    assert.equal(meta.attBytes, 3 * KB10, 'stored with the counters');
    // Wrong counters marked for a recount, as a process killed during one leaves them.
    return { ...meta, attBytes: 5, recountPending: true };
  });
  await holds(db, 3 * KB10, 'recounted');
});

test('a database whose counters were stored before attachment bytes were kept counts them once, at its next open', async (t) => {
  const { leveldbEngine } = await import('../../src/storage-node/index.ts');
  const { db, location } = await reopenedWithCounters(t, [{ _id: 'a', _attachments: { f: inline(KB10) } }, { _id: 'b' }], ({ attBytes, ...older }) => {
    assert.equal(attBytes, KB10);
    // As an earlier version stored them: no attBytes.
    return older;
  });
  await holds(db, KB10, 'counted at the open');
  // Deleting the document takes its bytes away: counted from there, not from 0.
  await db.remove('a', ((await db.get('a')) as { _rev: string })._rev);
  await holds(db, 0, 'its document deleted');
  await db.close();
  const again = await leveldbEngine().open({ location });
  try {
    assert.equal((JSON.parse((await again.get('m!info'))!) as { attBytes?: number }).attBytes, 0, 'stored: not counted again');
  } finally {
    await again.close();
  }
});
