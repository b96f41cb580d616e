// The node's dashboard (`/_utils/`) driven in Chromium: log in as the admin, create a database,
// write, edit and delete documents through the page, page through `_all_docs`, query with Mango and
// views, replicate, see mesh peers come up live; what the page did is checked on the node itself.
// Skipped where Chromium is missing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer } from '../../src/http/index.ts';
import { addPeer } from '../../src/mesh/index.ts';
import { CHROMIUM, noChromium } from './chromium.ts';
import { nextEvent, startPeerNode } from '../mesh/helpers.ts';

test('the dashboard logs in, manages databases and documents and shows mesh peers, all through the API', { skip: noChromium }, async (t) => {
  const home = await startPeerNode();
  t.after(() => home.close());
  const server = await startServer({ node: home.node, port: 0, host: '127.0.0.1', admin: 'root:secret' });
  t.after(() => server.close());
  server.context.extras.mesh = home.mesh;

  // Served as static assets, locked down: no inline code may run, no other site may frame it.
  const page0 = await fetch(`${server.url}/_utils/`);
  assert.equal(page0.status, 200);
  assert.match(page0.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.match(await page0.text(), /<script src="\/_utils\/app.js">/);
  assert.equal((await fetch(`${server.url}/_utils`)).status, 200);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${server.url}/_utils/`);
  await page.waitForSelector('body[data-ready="yes"]');
  assert.equal(await page.isVisible('#login'), true);
  assert.match(await page.textContent('#mesh-self') ?? '', /log in/);

  // Writes need the admin: creating a database before logging in shows the node's refusal.
  await page.fill('#create-db input[name=name]', 'notes');
  await page.click('#create-db button');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error') ?? '', /unauthorized/);
  assert.equal(await home.node.exists('notes'), false);

  await page.fill('#login input[name=name]', 'root');
  await page.fill('#login input[name=password]', 'secret');
  await page.click('#login button');
  await page.waitForSelector('#who:has-text("logged in as root")');
  assert.equal(await page.isVisible('#login'), false, 'no login form once logged in');
  await page.waitForSelector(`#mesh-self:has-text("${home.mesh.peerId}")`);
  await page.click('#create-db button');
  await page.waitForSelector('#dbs a:has-text("notes")');
  const notes = await home.node.db('notes');

  // 25 documents: the list pages by 20.
  await notes.bulkDocs(Array.from({ length: 25 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, i })));
  await page.click('#dbs a:has-text("notes")');
  await page.waitForSelector('#page:has-text("1–20 of 25")');
  await page.click('#next');
  await page.waitForSelector('#page:has-text("21–25 of 25")');

  // Mango from the page: the node's _find answers.
  await page.fill('#find textarea', JSON.stringify({ selector: { i: { $gte: 23 } }, fields: ['_id'] }));
  await page.click('#find button');
  await page.waitForSelector('#found a:has-text("d24")');
  assert.deepEqual(await page.$$eval('#found a', (links) => links.map((a) => a.textContent)), ['d23', 'd24']);

  // A view, listed by its design document's and its own name and queried with the parameters
  // typed: reduced and grouped, then row by row with the ids linked, then refused by the node.
  await notes.put({ _id: '_design/by', views: { parity: { map: 'function (doc) { emit(doc.i % 2 ? "odd" : "even", doc.i); }', reduce: '_count' } } });
  await page.goto(`${server.url}/_utils/`);
  await page.click('#dbs a:has-text("notes")');
  await page.waitForSelector('#view:not([hidden])');
  assert.deepEqual(await page.$$eval('#view option', (options) => options.map((o) => o.textContent)), ['by/parity']);
  const viewRows = () => page.$$eval('#view-rows tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await page.fill('#view input[name=params]', 'group=true');
  await page.click('#view button');
  await page.waitForSelector('#view-total:has-text("2 rows")');
  assert.deepEqual(await viewRows(), [['"even"', '13', ''], ['"odd"', '12', '']]);
  await page.fill('#view input[name=params]', 'reduce=false&key="odd"&limit=3');
  await page.click('#view button');
  await page.waitForSelector('#view-total:has-text("3 of 25 rows")');
  assert.deepEqual(await viewRows(), [['"odd"', '1', 'd01'], ['"odd"', '3', 'd03'], ['"odd"', '5', 'd05']]);
  assert.equal(await page.getAttribute('#view-rows a', 'href'), '#/notes/d01');
  await page.fill('#view input[name=params]', 'limit=many');
  await page.click('#view button');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error') ?? '', /query_parse_error/);

  // A new document, then an edit of it, then its deletion: each reaches the node.
  await page.click('#new-doc');
  await page.waitForSelector('#doc:not([hidden])');
  await page.fill('#doc-json', JSON.stringify({ _id: 'made-in-ui', title: '<b>not html</b>' }));
  await page.click('#save');
  await page.waitForSelector('#doc-id:has-text("made-in-ui")');
  await page.waitForFunction(() => /"_rev": "1-/.test((globalThis as any).document.querySelector('#doc-json').value));
  assert.equal((await notes.get('made-in-ui')).title, '<b>not html</b>');
  const edited = JSON.parse(await page.inputValue('#doc-json'));
  await page.fill('#doc-json', JSON.stringify({ ...edited, title: 'edited' }));
  await page.click('#save');
  await page.waitForFunction(() => /"_rev": "2-/.test((globalThis as any).document.querySelector('#doc-json').value));
  assert.equal((await notes.get('made-in-ui')).title, 'edited');
  await page.click('#delete');
  await page.waitForSelector('#db:not([hidden])');
  await assert.rejects(notes.get('made-in-ui'), { code: 'not_found' });
  // A stale edit is refused with the node's conflict, shown on the page.
  await page.goto(`${server.url}/_utils/#/notes/d00`);
  await page.waitForSelector('#doc-id:has-text("d00")');
  await notes.put({ ...(await notes.get('d00')), i: 'changed elsewhere' });
  await page.click('#save');
  await page.waitForSelector('#error:has-text("conflict")');

  // A one-shot replication from the page's form, into a database it creates.
  await page.goto(`${server.url}/_utils/`);
  await page.waitForSelector('body[data-ready="yes"]');
  await page.fill('#replicate input[name=source]', 'notes');
  await page.fill('#replicate input[name=target]', 'copy');
  await page.check('#replicate input[name=create_target]');
  await page.click('#replicate button');
  await page.waitForSelector('#replicated:has-text("done:"), #error:not([hidden])');
  assert.equal(await page.isHidden('#error'), true, await page.textContent('#error') ?? '');
  // The 25 documents, the design document and the tombstone of the one deleted above.
  assert.equal(await page.textContent('#replicated'), 'done: 27 written');
  assert.equal((await (await home.node.db('copy')).info()).docCount, 26);

  // A peer that becomes trusted and connects shows up on the page as it happens (SSE).
  const peer = await startPeerNode();
  t.after(() => peer.close());
  const up = nextEvent(home.mesh, 'peer:up');
  await home.trust.update((s) => addPeer(s, { id: peer.mesh.peerId, name: 'laptop' }));
  await peer.mesh.connect(home.mesh.invite());
  await up;
  await page.waitForSelector(`#mesh li[data-peer="${peer.mesh.peerId}"]:has-text("(up)")`);
  assert.deepEqual(errors, []);
});
