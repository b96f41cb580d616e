// PouchDB in a real browser against a Refuge node, as a web app uses it: pouchdb-browser on the
// page's IndexedDB in headless Chromium, served from another origin (CORS, logged in with Basic
// credentials, then with a /_session cookie), syncing one-shot and live both ways, conflicts made
// and resolved; both sides end with the same trees.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../http/server.ts';
import { bundleForBrowsers, noChromium, openAppPage, pageServer } from './chromium.ts';

const entry = fileURLToPath(new URL('./pouchdb-entry.mjs', import.meta.url));

test('PouchDB in Chromium syncs with a node from another origin: one-shot and live, conflicts kept and resolved alike', { skip: noChromium }, async (t) => {
  const pages = await pageServer(await bundleForBrowsers(entry));
  t.after(() => pages.close());
  const node = await startTestServer({ admin: 'admin:secret', cors: { origins: [pages.origin], credentials: true } });
  t.after(() => node.close());
  const shared = await node.node.createDb('shared');
  await shared.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `n${String(i).padStart(2, '0')}`, i, side: 'node' })));
  await shared.put({ _id: 'both', v: 'node' });

  const { page, errors } = await openAppPage(t, pages.origin, 'PouchDB');
  const remoteUrl = `${node.url}/shared`;

  const first = await page.evaluate(async (url: string) => {
    const PouchDB = (globalThis as any).PouchDB;
    const local = new PouchDB('app');
    const remote = new PouchDB(url, { auth: { username: 'admin', password: 'secret' } });
    await local.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `b${String(i).padStart(2, '0')}`, i, side: 'browser' })));
    await local.put({ _id: 'both', v: 'browser' });
    const sync = await PouchDB.sync(local, remote);
    const both = await local.get('both', { conflicts: true });
    const afterSync = (await local.info()).doc_count;
    // Resolve the conflict on the browser side: the losing branch goes, and the deletion syncs.
    await local.remove('both', both._conflicts[0]);
    await PouchDB.sync(local, remote);
    return { pushed: sync.push.docs_written, pulled: sync.pull.docs_written, winner: both._rev, conflicts: both._conflicts, afterSync };
  }, remoteUrl);
  assert.deepEqual(errors, []);
  assert.equal(first.pushed, 41);
  assert.equal(first.pulled, 31);
  assert.equal(first.afterSync, 71);
  assert.equal(first.conflicts.length, 1);
  // The node picked the same winner, and took the resolution.
  const both = await shared.get('both', { conflicts: true });
  assert.equal(both._rev, first.winner);
  assert.equal(both._conflicts, undefined);

  // Live sync: a write on each side reaches the other.
  const since = (await shared.info()).updateSeq;
  const live = page.evaluate(async (url: string) => {
    const PouchDB = (globalThis as any).PouchDB;
    const local = new PouchDB('app');
    const remote = new PouchDB(url, { auth: { username: 'admin', password: 'secret' } });
    const handle = local.sync(remote, { live: true, retry: true });
    const arrived = new Promise((resolve) => {
      const feed = local.changes({ since: 'now', live: true, include_docs: true, doc_ids: ['from-node'] }).on('change', (c: any) => {
        feed.cancel();
        resolve(c.doc.v);
      });
    });
    await local.put({ _id: 'from-browser', v: 'b' });
    const got = await arrived;
    handle.cancel();
    return got;
  }, remoteUrl);
  // Wait on the node's own feed for the browser's write, then answer it.
  for await (const batch of shared.subscribe({ since, docIds: ['from-browser'] })) {
    if (batch.some((c) => c.id === 'from-browser')) break;
  }
  await shared.put({ _id: 'from-node', v: 'n' });
  assert.equal(await live, 'n');

  // A cookie session, as pouchdb-authentication logs in: POST /_session across origins, then
  // requests that carry only the cookie.
  const session = await page.evaluate(async (url: string) => {
    const base = url.slice(0, url.lastIndexOf('/'));
    const login = await fetch(`${base}/_session`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'admin', password: 'secret' }),
    });
    const PouchDB = (globalThis as any).PouchDB;
    const remote = new PouchDB(url, { fetch: (globalThis as any).fetchWithCookies });
    const info = await remote.info();
    const anonymous = await fetch(`${base}/shared`, { credentials: 'omit' });
    return { login: login.status, docCount: info.doc_count, anonymous: anonymous.status };
  }, remoteUrl);
  assert.deepEqual(session, { login: 200, docCount: 73, anonymous: 401 });

  // Same documents, same revisions and the same conflicts on both sides.
  const inBrowser = await page.evaluate(async () => {
    const local = new (globalThis as any).PouchDB('app');
    const all = await local.allDocs({ conflicts: true, include_docs: true });
    return all.rows.map((r: any) => [r.id, r.value.rev, r.doc._conflicts ?? []]);
  });
  const onNode = (await shared.allDocs({ conflicts: true, includeDocs: true })).rows.map((r) => [r.id, r.value!.rev, r.doc?._conflicts ?? []]);
  assert.equal(onNode.length, 73);
  assert.deepEqual(inBrowser, onNode);
});
