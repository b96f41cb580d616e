// Content writers give (attachments, update functions' answers) is served sandboxed, with no script
// in the node's origin, which the dashboard and the admin's session share; blobs fetched with
// credentials are not left to shared caches.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

/** Accounts here take 1,000 PBKDF2 iterations, not the default 600,000 (~0.3 s of CPU each). */
const ITERATIONS = 1000;

const basic = (name: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${name}:${password}`).toString('base64') });
const ADMIN = basic('admin', 'secret');

describe('content from writers, served', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: ITERATIONS });
    await request(`${server.url}/_users`, { method: 'PUT', headers: ADMIN });
  });
  after(() => server.close());

  test('an HTML attachment on a self-made user document is served sandboxed, without sniffing', async () => {
    const page = Buffer.from('<script>fetch("/_all_dbs")</script>').toString('base64');
    const signup = await request(`${server.url}/_users/org.couchdb.user:mallory`, {
      method: 'PUT',
      body: { name: 'mallory', type: 'user', roles: [], password: 'm', _attachments: { 'cv.html': { content_type: 'text/html', data: page } } },
    });
    assert.equal(signup.status, 201, signup.text);
    const res = await fetch(`${server.url}/_users/org.couchdb.user:mallory/cv.html`, { headers: ADMIN });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('content-security-policy'), 'sandbox');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    await res.arrayBuffer();
    // The same bytes inside a multipart answer of the document are sandboxed too.
    for (const q of ['open_revs=all', 'attachments=true']) {
      const multi = await fetch(`${server.url}/_users/org.couchdb.user:mallory?${q}`, { headers: { ...ADMIN, accept: 'multipart/mixed, multipart/related, */*;q=0.8' } });
      assert.match(multi.headers.get('content-type') ?? '', /^multipart\//, q);
      assert.equal(multi.headers.get('content-security-policy'), 'sandbox', q);
      await multi.arrayBuffer();
    }
  });

  test('a PDF attachment is served unsandboxed (Chromium blocks its viewer in a sandbox) but never sniffed', async () => {
    await request(`${server.url}/pdfs`, { method: 'PUT', headers: ADMIN });
    const data = Buffer.from('%PDF-1.4 not much of a pdf').toString('base64');
    const types = {
      'a.pdf': 'application/pdf',
      'b.pdf': 'Application/PDF; name=b',
      'c.pdf': 'application/pdf+html',
      'd.pdf': 'text/html; application/pdf',
      // A list: browsers take its last type (the Fetch standard), here HTML.
      'e.pdf': 'application/pdf; x=1, text/html',
      'f.pdf': 'application/pdf;a=",", text/html',
    };
    const _attachments = Object.fromEntries(Object.entries(types).map(([name, content_type]) => [name, { content_type, data }]));
    assert.equal((await request(`${server.url}/pdfs/doc`, { method: 'PUT', headers: ADMIN, body: { _attachments } })).status, 201);
    for (const [name, sandboxed] of [['a.pdf', false], ['b.pdf', false], ['c.pdf', true], ['d.pdf', true], ['e.pdf', true], ['f.pdf', true]] as const) {
      const res = await fetch(`${server.url}/pdfs/doc/${name}`, { headers: ADMIN });
      assert.equal(res.status, 200, name);
      // A PDF left unsandboxed is sent as exactly application/pdf; anything else as stored.
      assert.equal(res.headers.get('content-type'), sandboxed ? types[name] : 'application/pdf', name);
      assert.equal(res.headers.get('content-security-policy'), sandboxed ? 'sandbox' : null, name);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', name);
      await res.arrayBuffer();
    }
  });

  test("an update function's answer is sandboxed and sets no cookie", async () => {
    await request(`${server.url}/upd`, { method: 'PUT', headers: ADMIN });
    const fn =
      'function (doc, req) { return [null, { headers: { "Set-Cookie": "AuthSession=stolen; Path=/", "Content-Security-Policy": "default-src *", ' +
      '"Access-Control-Allow-Origin": "https://evil.example", "Access-Control-Allow-Credentials": "true", "Transfer-Encoding": "chunked", ' +
      '"Clear-Site-Data": "\\"cookies\\"", "X-Kept": "yes" }, body: "<script>1</script>" }]; }';
    assert.equal((await request(`${server.url}/upd/_design/u`, { method: 'PUT', headers: ADMIN, body: { updates: { page: fn } } })).status, 201);
    const res = await fetch(`${server.url}/upd/_design/u/_update/page`, { method: 'POST', headers: ADMIN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal(res.headers.get('content-security-policy'), 'sandbox');
    assert.equal(res.headers.get('x-kept'), 'yes');
    for (const h of ['access-control-allow-origin', 'access-control-allow-credentials', 'transfer-encoding', 'clear-site-data']) assert.equal(res.headers.get(h), null, h);
    await res.text();
  });

  test('a blob read on a node with auth is for private caches only', async () => {
    const put = await fetch(`${server.url}/_blobs`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/octet-stream' }, body: Buffer.from('private bytes') });
    assert.ok(put.status === 201 || put.status === 200, String(put.status));
    const { id } = (await put.json()) as { id: string };
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${server.url}/_blobs/${id}`, { method, headers: ADMIN });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'private, max-age=31536000, immutable', method);
      await res.arrayBuffer();
    }
  });
});

test('a blob read on a node without auth may be kept by shared caches (immutable by its id)', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const put = await fetch(`${server.url}/_blobs`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('open bytes') });
  const { id } = (await put.json()) as { id: string };
  const res = await fetch(`${server.url}/_blobs/${id}`);
  assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  await res.arrayBuffer();
});
