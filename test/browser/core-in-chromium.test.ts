// The portable core in a real browser: bundled for browsers (no Node built-ins), run in Debian's
// Chromium (headless, driven by playwright-core) on the page's real IndexedDB (documents and
// attachment blobs), and replicating both ways with a Refuge node over HTTP from another origin
// (CORS). Skipped where Chromium is missing
// (scripts/ensure-system-packages.sh installs it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../http/server.ts';
import { noChromium, openAppPage, servePage } from './chromium.ts';

const entry = fileURLToPath(new URL('./page-entry.ts', import.meta.url));

test('the core bundles for browsers and, in Chromium on IndexedDB, keeps documents and replicates both ways with a node', { skip: noChromium }, async (t) => {
  const pages = await servePage(t, entry);
  const node = await startTestServer({ cors: { origins: [pages.origin] } });
  t.after(() => node.close());
  const onNode = await node.node.createDb('from-node');
  await onNode.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `n${String(i).padStart(3, '0')}`, i, side: 'node' })));
  // An attachment from the node's side: pulled into the page's blob store.
  await onNode.put({ _id: 'n-att', i: 50, _attachments: { 'note.txt': { content_type: 'text/plain', data: Buffer.from('from the node').toString('base64') } } });

  const { page, errors } = await openAppPage(t, pages.origin, 'refuge');

  const result = await page.evaluate(async (nodeUrl: string) => {
    const { HttpPeer, IndexedDbBlobStore, indexedDbEngine, LocalPeer, openCoreDatabase, Replication } = (globalThis as any).refuge;
    const engine = indexedDbEngine();
    // Attachments go to a blob store in IndexedDB too, shared by the page's databases.
    let blobs = await IndexedDbBlobStore.open({ name: 'blobs' });
    let db = await openCoreDatabase('notes', { engine, blobs });
    await db.bulkDocs(Array.from({ length: 120 }, (_, i) => ({ _id: `b${String(i).padStart(3, '0')}`, i, tags: [i % 3], side: 'browser' })));
    await db.put({ _id: 'b-att', i: 120, _attachments: { 'photo.bin': { content_type: 'application/octet-stream', data: btoa(String.fromCharCode(...Array.from({ length: 3000 }, (_, k) => k % 256))) } } });
    const first = await db.put({ _id: 'edited', v: 1 });
    await db.put({ _id: 'edited', _rev: first.rev, v: 2 });
    const found = await db.find({ selector: { tags: { $elemMatch: { $eq: 1 } } }, fields: ['_id'], limit: 1000 });
    // Closed and opened again: the documents are in IndexedDB, not in memory.
    await db.close();
    await blobs.close();
    blobs = await IndexedDbBlobStore.open({ name: 'blobs' });
    db = await openCoreDatabase('notes', { engine, blobs });
    const info = await db.info();
    const photo = (await db.get('b-att', { attachments: true }))._attachments['photo.bin'];
    const push = await new Replication(new LocalPeer(db), new HttpPeer(`${nodeUrl}/to-node`), { createTarget: true }).done;
    const pulled = await openCoreDatabase('pulled', { engine, blobs });
    const pull = await new Replication(new HttpPeer(`${nodeUrl}/from-node`), new LocalPeer(pulled)).done;
    const pulledRows = (await pulled.allDocs({ includeDocs: true })).rows.map((r: any) => [r.id, r.doc.i]);
    const edited = await db.get('edited', { revs: true });
    const note = atob((await pulled.get('n-att', { attachments: true }))._attachments['note.txt'].data);
    await db.close();
    await pulled.close();
    await blobs.close();
    // The memory engine in fast mode: its flushes wait for the next turn, which a page without
    // setImmediate gives by a zero timeout; reads of storage and the close start them at once.
    const scratch = await openCoreDatabase('scratch', { durability: 'fast' });
    for (let i = 0; i < 30; i++) await scratch.put({ _id: `m${i}`, i });
    const scratchRows = (await scratch.allDocs()).rows.length;
    await scratch.put({ _id: 'm30', i: 30 });
    const scratchChanges = (await scratch.changes()).results.length;
    await scratch.put({ _id: 'm31', i: 31 });
    await scratch.close();
    const scratchTurn = typeof (globalThis as any).setImmediate;
    return { scratch: [scratchRows, scratchChanges, scratchTurn], found: found.docs.length, docCount: info.docCount, pushed: push.docsWritten, pulled: pull.docsWritten, pulledRows, edited, photo: { digest: photo.digest, bytes: atob(photo.data).length }, note };
  }, node.url);

  assert.deepEqual(errors, []);
  assert.deepEqual(result.scratch, [30, 31, 'undefined'], 'writes, reads and close of a fast-mode memory database in a page');
  assert.equal(result.found, 40);
  assert.equal(result.docCount, 122);
  assert.equal(result.pushed, 122);
  assert.equal(result.pulled, 51);
  assert.deepEqual(result.pulledRows, [['n-att', 50], ...Array.from({ length: 50 }, (_, i) => [`n${String(i).padStart(3, '0')}`, i])]);
  assert.equal(result.note, 'from the node');
  assert.equal(result.photo.bytes, 3000);
  // The node holds what the browser wrote, with the browser's revisions.
  const toNode = await node.node.db('to-node');
  const edited = await toNode.get('edited', { revs: true });
  assert.equal(edited._rev, result.edited._rev);
  assert.deepEqual(edited._revisions, result.edited._revisions);
  assert.equal((await toNode.info()).docCount, 122);
  // The browser's attachment reached the node, byte for byte.
  const photo = (await toNode.get('b-att', { attachments: true }))._attachments as Record<string, { data: string; digest: string }>;
  assert.equal(photo['photo.bin']!.digest, result.photo.digest);
  assert.deepEqual([...Buffer.from(photo['photo.bin']!.data, 'base64')], Array.from({ length: 3000 }, (_, k) => k % 256));
});
