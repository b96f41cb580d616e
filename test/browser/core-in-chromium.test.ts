// The portable core in a real browser: bundled for browsers (no Node built-ins), run in Debian's
// Chromium (headless, driven by playwright-core) on the page's real IndexedDB, and replicating both
// ways with a Refuge node over HTTP from another origin (CORS). Skipped where Chromium is missing
// (scripts/ensure-system-packages.sh installs it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../http/server.ts';
import { bundleForBrowsers, noChromium, openAppPage, pageServer } from './chromium.ts';

const entry = fileURLToPath(new URL('./page-entry.ts', import.meta.url));

test('the core bundles for browsers and, in Chromium on IndexedDB, keeps documents and replicates both ways with a node', { skip: noChromium }, async (t) => {
  const bundle = await bundleForBrowsers(entry);
  assert.doesNotMatch(bundle, /from ["']node:/, 'no Node built-in in the browser build');

  const pages = await pageServer(bundle);
  t.after(() => pages.close());
  const node = await startTestServer({ cors: { origins: [pages.origin] } });
  t.after(() => node.close());
  const onNode = await node.node.createDb('from-node');
  await onNode.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `n${String(i).padStart(3, '0')}`, i, side: 'node' })));

  const { page, errors } = await openAppPage(t, pages.origin, 'refuge');

  const result = await page.evaluate(async (nodeUrl: string) => {
    const { HttpPeer, indexedDbEngine, LocalPeer, openCoreDatabase, Replication } = (globalThis as any).refuge;
    const engine = indexedDbEngine();
    let db = await openCoreDatabase('notes', { engine });
    await db.bulkDocs(Array.from({ length: 120 }, (_, i) => ({ _id: `b${String(i).padStart(3, '0')}`, i, tags: [i % 3], side: 'browser' })));
    const first = await db.put({ _id: 'edited', v: 1 });
    await db.put({ _id: 'edited', _rev: first.rev, v: 2 });
    const found = await db.find({ selector: { tags: { $elemMatch: { $eq: 1 } } }, fields: ['_id'], limit: 1000 });
    // Closed and opened again: the documents are in IndexedDB, not in memory.
    await db.close();
    db = await openCoreDatabase('notes', { engine });
    const info = await db.info();
    const push = await new Replication(new LocalPeer(db), new HttpPeer(`${nodeUrl}/to-node`), { createTarget: true }).done;
    const pulled = await openCoreDatabase('pulled', { engine });
    const pull = await new Replication(new HttpPeer(`${nodeUrl}/from-node`), new LocalPeer(pulled)).done;
    const pulledRows = (await pulled.allDocs({ includeDocs: true })).rows.map((r: any) => [r.id, r.doc.i]);
    const edited = await db.get('edited', { revs: true });
    await db.close();
    await pulled.close();
    return { found: found.docs.length, docCount: info.docCount, pushed: push.docsWritten, pulled: pull.docsWritten, pulledRows, edited };
  }, node.url);

  assert.deepEqual(errors, []);
  assert.equal(result.found, 40);
  assert.equal(result.docCount, 121);
  assert.equal(result.pushed, 121);
  assert.equal(result.pulled, 50);
  assert.deepEqual(result.pulledRows, Array.from({ length: 50 }, (_, i) => [`n${String(i).padStart(3, '0')}`, i]));
  // The node holds what the browser wrote, with the browser's revisions.
  const toNode = await node.node.db('to-node');
  const edited = await toNode.get('edited', { revs: true });
  assert.equal(edited._rev, result.edited._rev);
  assert.deepEqual(edited._revisions, result.edited._revisions);
  assert.equal((await toNode.info()).docCount, 121);
});
