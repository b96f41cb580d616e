// CouchDB's attachment upload form (POST /{db}/{docid}, multipart/form-data): files become attachments
// of a new revision and the others stay; a form from another site (Referer elsewhere, or none) and
// malformed forms write nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from './raw-http.ts';
import { startTestServer } from './server.ts';

function form(fields: Record<string, string>, files: Array<{ name: string; type: string; bytes: Uint8Array }>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const file of files) f.append('_attachments', new Blob([file.bytes], { type: file.type }), file.name);
  return f;
}

test('a form upload attaches its files to a new revision, keeps the other attachments and replaces same-named ones', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  const post = (path: string, body: FormData, referer = `${s.url}/_utils/`) => fetch(`${s.url}${path}`, { method: 'POST', body, headers: { referer } });
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const created = (await (await fetch(`${s.url}/db/doc`, { method: 'PUT', body: JSON.stringify({ title: 'kept' }) })).json()) as { rev: string };

  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255]);
  const res = await post('/db/doc', form({ _rev: created.rev }, [
    { name: 'pic.png', type: 'image/png', bytes: png },
    { name: 'note.txt', type: 'text/plain', bytes: new TextEncoder().encode('first note') },
  ]));
  assert.equal(res.status, 201);
  const first = (await res.json()) as { ok: boolean; id: string; rev: string };
  assert.equal(first.ok, true);
  assert.equal(first.id, 'doc');
  assert.match(first.rev, /^2-/);
  assert.equal(res.headers.get('etag'), `"${first.rev}"`);
  const doc = (await (await fetch(`${s.url}/db/doc`)).json()) as { title: string; _attachments: Record<string, { content_type: string; length: number }> };
  assert.equal(doc.title, 'kept', 'the body is the revision the form named');
  assert.deepEqual(Object.keys(doc._attachments).sort(), ['note.txt', 'pic.png']);
  assert.equal(doc._attachments['pic.png']!.content_type, 'image/png');
  assert.equal(doc._attachments['pic.png']!.length, png.length);
  assert.deepEqual(new Uint8Array(await (await fetch(`${s.url}/db/doc/pic.png`)).arrayBuffer()), png);

  // A second upload: note.txt replaced, pic.png kept as it was; an empty file input adds nothing.
  const second = form({ _rev: first.rev }, [{ name: 'note.txt', type: 'text/plain', bytes: new TextEncoder().encode('second note') }]);
  second.append('_attachments', new Blob([]), '');
  const again = await post('/db/doc', second);
  assert.equal(again.status, 201);
  assert.equal(await (await fetch(`${s.url}/db/doc/note.txt`)).text(), 'second note');
  assert.deepEqual(new Uint8Array(await (await fetch(`${s.url}/db/doc/pic.png`)).arrayBuffer()), png);
  const twice = (await (await fetch(`${s.url}/db/doc`)).json()) as { _attachments: Record<string, unknown> };
  assert.deepEqual(Object.keys(twice._attachments).sort(), ['note.txt', 'pic.png']);

  // A `_doc` field gives the whole document instead: here a new one, and a design document works too.
  const fresh = await post('/db/fresh', form({ _doc: JSON.stringify({ kind: 'from a form' }) }, [{ name: 'a.bin', type: 'application/octet-stream', bytes: png }]));
  assert.equal(fresh.status, 201);
  assert.equal(((await (await fetch(`${s.url}/db/fresh`)).json()) as { kind: string }).kind, 'from a form');
  const design = await post('/db/_design/app', form({ _doc: '{}' }, [{ name: 'index.html', type: 'text/html', bytes: new TextEncoder().encode('<p>hi</p>') }]));
  assert.equal(design.status, 201);
  assert.equal(await (await fetch(`${s.url}/db/_design/app/index.html`)).text(), '<p>hi</p>');
});

test('a form from another site, or without a Referer, or malformed, is refused and writes nothing', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const { rev } = (await (await fetch(`${s.url}/db/doc`, { method: 'PUT', body: '{}' })).json()) as { rev: string };
  const files = [{ name: 'x.txt', type: 'text/plain', bytes: new TextEncoder().encode('planted') }];
  const expect400 = async (res: Response, reason: RegExp) => {
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; reason: string };
    assert.equal(body.error, 'bad_request');
    assert.match(body.reason, reason);
  };
  const url = `${s.url}/db/doc`;
  await expect400(await fetch(url, { method: 'POST', body: form({ _rev: rev }, files) }), /Referer header required/);
  await expect400(await fetch(url, { method: 'POST', body: form({ _rev: rev }, files), headers: { referer: 'https://evil.example/page' } }), /must match host/);
  await expect400(await fetch(url, { method: 'POST', body: form({ _rev: rev }, files), headers: { referer: 'not a url' } }), /must match host/);
  const same = { referer: `${s.url}/` };
  await expect400(await fetch(url, { method: 'POST', body: form({}, files), headers: same }), /_rev field/);
  await expect400(await fetch(url, { method: 'POST', body: form({ _doc: '{"half' }, files), headers: same }), /not JSON/);
  await expect400(await fetch(url, { method: 'POST', body: form({ _doc: '[1]' }, files), headers: same }), /JSON object/);
  await expect400(
    await fetch(url, { method: 'POST', body: '--x\r\nContent-Disposition: form-data; name="_rev"\r\n\r\n1-a', headers: { ...same, 'content-type': 'multipart/form-data; boundary=x' } }),
    /multipart/,
  );
  // A file name or field that is not UTF-8 (the parser's TypeError was a 500).
  for (const part of ['name="_attachments"; filename="caf\u00e9"\r\nContent-Type: text/plain', 'name="_rev"']) {
    const body = Buffer.from(`--x\r\nContent-Disposition: form-data; ${part}\r\n\r\ncaf\u00e9\r\n--x--\r\n`, 'latin1');
    await expect400(await fetch(url, { method: 'POST', body, headers: { ...same, 'content-type': 'multipart/form-data; boundary=x' } }), /UTF-8/);
  }
  // A Host header no URL can hold names no loopback address, and would match no Referer: refused
  // (a node without an admin answers only requests addressed to this machine), not a failure.
  const oddHost = await rawRequest(s.server.port, {
    method: 'POST',
    path: '/db/doc',
    body: `--x\r\nContent-Disposition: form-data; name="_rev"\r\n\r\n${rev}\r\n--x--\r\n`,
    headers: { host: 'a b', referer: 'http://a/', 'content-type': 'multipart/form-data; boundary=x' },
  });
  assert.equal(oddHost.status, 403, oddHost.text);
  // A JSON body on the upload path is not a form.
  const json = await fetch(url, { method: 'POST', body: JSON.stringify({ _rev: rev }), headers: { ...same, 'content-type': 'application/json' } });
  assert.equal(json.status, 415);
  // A stale revision is a conflict, as any write.
  const ok = await fetch(url, { method: 'POST', body: form({ _rev: rev }, files), headers: same });
  assert.equal(ok.status, 201);
  const stale = await fetch(url, { method: 'POST', body: form({ _rev: rev }, files), headers: same });
  assert.equal(stale.status, 409);
  const doc = (await (await fetch(url)).json()) as { _rev: string; _attachments: Record<string, unknown> };
  assert.match(doc._rev, /^2-/, 'only the one accepted upload made a revision');
  assert.deepEqual(Object.keys(doc._attachments), ['x.txt']);
  // Forms are taken nowhere else: a cross-site form cannot reach _bulk_docs or a database.
  for (const path of ['/db/_bulk_docs', '/db', '/_replicate']) {
    const res = await fetch(`${s.url}${path}`, { method: 'POST', body: form({ docs: '[]' }, []), headers: same });
    assert.equal(res.status, 415, path);
  }
});

test("a form's _doc field is held to the same rules as a JSON body: many keys past 16,383 characters, max_document_size", async (t) => {
  const s = await startTestServer({ maxDocumentSize: 1_000_000 });
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const files = [{ name: 'x.txt', type: 'text/plain', bytes: new TextEncoder().encode('x') }];
  const post = (doc: unknown) => fetch(`${s.url}/db/doc`, { method: 'POST', body: form({ _doc: JSON.stringify(doc) }, files), headers: { referer: `${s.url}/` } });
  const longKeys = await post(Object.fromEntries(Array.from({ length: 300 }, (_, i) => ['k'.repeat(16_400) + i, i])));
  assert.equal(longKeys.status, 400);
  assert.match(((await longKeys.json()) as { reason: string }).reason, /object keys longer than 16383/);
  const big = await post({ pad: 'p'.repeat(1_100_000) });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as { error: string }).error, 'document_too_large');
  assert.equal((await fetch(`${s.url}/db/doc`)).status, 404, 'nothing written');
  assert.equal((await post({ small: true })).status, 201);
});
