// CouchDB's multipart document bodies, byte for byte as its replicator sends and reads them: a
// multipart/related PUT with `follows` attachments (identity and gzip), open_revs answered as
// multipart/mixed, a document with attachments=true as multipart/related; malformed bodies refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { getMultipartBoundary, parseMultipart } from '@remix-run/multipart-parser';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { until } from '../helpers/until.ts';
import { startTestServer } from './server.ts';

const CRLF = '\r\n';

/** A multipart/related body: the JSON (a string is sent as it is), then each attachment part (as CouchDB's replicator writes them). */
function related(doc: unknown, parts: Array<{ name?: string; type: string; bytes: Buffer }>, boundary = 'e3b0c44298fc1c149afbf4c8996fb924'): { body: Buffer; type: string } {
  const chunks: Buffer[] = [Buffer.from(`--${boundary}${CRLF}Content-Type: application/json${CRLF}${CRLF}${typeof doc === 'string' ? doc : JSON.stringify(doc)}${CRLF}`)];
  for (const p of parts) {
    const disposition = p.name === undefined ? '' : `Content-Disposition: attachment; filename="${p.name}"${CRLF}`;
    chunks.push(Buffer.from(`--${boundary}${CRLF}${disposition}Content-Type: ${p.type}${CRLF}Content-Length: ${p.bytes.length}${CRLF}${CRLF}`), p.bytes, Buffer.from(CRLF));
  }
  chunks.push(Buffer.from(`--${boundary}--`));
  return { body: Buffer.concat(chunks), type: `multipart/related; boundary="${boundary}"` };
}

test('a replicated multipart/related PUT stores the attachments that follow, gzip or not', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const text = Buffer.from('hello multipart '.repeat(100));
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5]);
  const doc = {
    _id: 'doc1',
    _rev: '2-0123456789abcdef0123456789abcdef',
    _revisions: { start: 2, ids: ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'] },
    title: 'with attachments',
    _attachments: {
      'notes.txt': { content_type: 'text/plain', revpos: 2, digest: 'md5-whatever', length: text.length, follows: true, encoding: 'gzip', encoded_length: 0 },
      'pic.png': { content_type: 'image/png', revpos: 1, digest: `md5-${createHash('md5').update(png).digest('base64')}`, length: png.length, follows: true },
    },
  };
  // Parts come in the order of _attachments, as CouchDB's replicator writes them.
  const { body, type } = related(doc, [
    { name: 'notes.txt', type: 'text/plain', bytes: gzipSync(text) },
    { name: 'pic.png', type: 'image/png', bytes: png },
  ]);
  const res = await fetch(`${s.url}/db/doc1?new_edits=false`, { method: 'PUT', headers: { 'content-type': type }, body });
  assert.equal(res.status, 201, await res.clone().text());
  assert.equal(((await res.json()) as { rev: string }).rev, doc._rev);

  const got = (await (await fetch(`${s.url}/db/doc1`)).json()) as { title: string; _attachments: Record<string, { length: number; revpos: number; stub: boolean }> };
  assert.equal(got.title, 'with attachments');
  assert.deepEqual(Object.keys(got._attachments).sort(), ['notes.txt', 'pic.png']);
  assert.equal(got._attachments['notes.txt']!.length, text.length);
  assert.equal(got._attachments['pic.png']!.revpos, 1, 'the replicated revpos is kept');
  assert.ok(Buffer.from(await (await fetch(`${s.url}/db/doc1/notes.txt`)).arrayBuffer()).equals(text));
  assert.ok(Buffer.from(await (await fetch(`${s.url}/db/doc1/pic.png`)).arrayBuffer()).equals(png));

  // Parts with no header lines at all are valid MIME, as CouchDB's own tests send them.
  const bare = [
    `--abc123${CRLF}${CRLF}${JSON.stringify({ _id: 'bare', body: 'x', _attachments: { 'foo.txt': { follows: true, content_type: 'application/test', length: 21 }, 'bar.txt': { follows: true, content_type: 'application/test', length: 20 } } })}${CRLF}`,
    `--abc123${CRLF}${CRLF}this is 21 chars long${CRLF}`,
    `--abc123${CRLF}${CRLF}this is 20 chars lon${CRLF}`,
    `--abc123--epilogue`,
  ].join('');
  const bareRes = await fetch(`${s.url}/db/bare`, { method: 'PUT', headers: { 'content-type': 'multipart/related;boundary="abc123"' }, body: bare });
  assert.equal(bareRes.status, 201, await bareRes.clone().text());
  assert.equal(await (await fetch(`${s.url}/db/bare/foo.txt`)).text(), 'this is 21 chars long');
  assert.equal(await (await fetch(`${s.url}/db/bare/bar.txt`)).text(), 'this is 20 chars lon');
  // An even number of such parts (the JSON part has its header): the parser dropped every other one.
  const even = [
    `--B${CRLF}Content-Type: application/json${CRLF}${CRLF}${JSON.stringify({ _attachments: { 'a.txt': { follows: true, content_type: 'text/plain', length: 5 }, 'b.bin': { follows: true, content_type: 'application/octet-stream', length: 3 } } })}${CRLF}`,
    `--B${CRLF}${CRLF}hello${CRLF}`,
    `--B${CRLF}${CRLF}xyz${CRLF}`,
    `--B--`,
  ].join('');
  const evenRes = await fetch(`${s.url}/db/even`, { method: 'PUT', headers: { 'content-type': 'multipart/related; boundary="B"' }, body: even });
  assert.equal(evenRes.status, 201, await evenRes.clone().text());
  assert.equal(await (await fetch(`${s.url}/db/even/a.txt`)).text(), 'hello');
  assert.equal(await (await fetch(`${s.url}/db/even/b.bin`)).text(), 'xyz');

  // Without names, parts are taken in order.
  const plain = related({ _id: 'doc2', a: 1, _attachments: { 'x.bin': { content_type: 'application/octet-stream', follows: true, length: 3 } } }, [{ type: 'application/octet-stream', bytes: Buffer.from('xyz') }]);
  const res2 = await fetch(`${s.url}/db/doc2`, { method: 'PUT', headers: { 'content-type': plain.type }, body: plain.body });
  assert.equal(res2.status, 201);
  assert.equal(await (await fetch(`${s.url}/db/doc2/x.bin`)).text(), 'xyz');
});

test('parts are the follows attachments in order, as CouchDB takes them: raw quotes and backslashes in their filenames swap nothing', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const put = async (id: string, names: string[], parts: Array<{ name?: string; data: string }>) => {
    // Written by hand: the JSON text keeps the names' order even where a JavaScript object would not.
    const atts = names.map((n, i) => `${JSON.stringify(n)}:{"follows":true,"content_type":"text/plain","length":${Buffer.byteLength(parts[i]!.data)}}`);
    const { body, type } = related(`{"_id":${JSON.stringify(id)},"_attachments":{${atts.join(',')}}}`, parts.map((p) => ({ name: p.name, type: 'text/plain', bytes: Buffer.from(p.data) })));
    const res = await fetch(`${s.url}/db/${id}`, { method: 'PUT', headers: { 'content-type': type }, body });
    assert.equal(res.status, 201, `${id}: ${await res.clone().text()}`);
  };
  const att = async (id: string, name: string) => (await fetch(`${s.url}/db/${id}/${encodeURIComponent(name)}`)).text();
  // CouchDB's replicator writes each name raw in `filename="..."`: a MIME parser reads `a"b` as `a`.
  await put('swap', ['a"b', 'a'], [{ name: 'a"b', data: 'first!' }, { name: 'a', data: 'second' }]);
  assert.equal(await att('swap', 'a"b'), 'first!');
  assert.equal(await att('swap', 'a'), 'second');
  await put('slash', ['x\\y', 'xy'], [{ name: 'x\\y', data: 'one' }, { name: 'xy', data: 'two' }]);
  assert.equal(await att('slash', 'x\\y'), 'one');
  assert.equal(await att('slash', 'xy'), 'two');
  // A client naming its parts after local files.
  await put('files', ['report.txt'], [{ name: '/home/me/draft-3.txt', data: 'report' }]);
  assert.equal(await att('files', 'report.txt'), 'report');
  // Names JavaScript reorders (array indexes come first): the JSON text's order still decides,
  // next to names no filename carries back (a quote, UTF-8), parts of one length each.
  await put('indexes', ['b', '7', '1'], [{ name: 'b', data: 'bee' }, { name: '7', data: 'seven' }, { name: '1', data: 'one' }]);
  assert.deepEqual([await att('indexes', 'b'), await att('indexes', '7'), await att('indexes', '1')], ['bee', 'seven', 'one']);
  await put('mixed', ['a"b.txt', '1', 'été'], [{ name: 'a"b.txt', data: 'quoted' }, { name: '1', data: 'index1' }, { name: 'été', data: 'accent' }]);
  assert.deepEqual([await att('mixed', 'a"b.txt'), await att('mixed', '1'), await att('mixed', 'été')], ['quoted', 'index1', 'accent']);
});

test("open_revs as multipart/mixed carries each revision's attachment bytes; attachments=true as multipart/related", async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const data = Buffer.from('attached bytes');
  const put = (await (
    await fetch(`${s.url}/db/doc`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1, _attachments: { 'a.txt': { content_type: 'text/plain', data: data.toString('base64') } } }) })
  ).json()) as { rev: string };
  await fetch(`${s.url}/db/plain`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"v":2}' });

  const missing = '9-00000000000000000000000000000000';
  // CouchDB's replicator asks without attachments=true: the bytes come anyway, after each JSON.
  const mixed = await fetch(`${s.url}/db/doc?revs=true&latest=true&open_revs=${encodeURIComponent(JSON.stringify([put.rev, missing]))}`, { headers: { accept: 'multipart/mixed' } });
  assert.equal(mixed.status, 200);
  const mixedType = mixed.headers.get('content-type')!;
  assert.match(mixedType, /^multipart\/mixed; boundary=/);
  const parts = [...parseMultipart(new Uint8Array(await mixed.arrayBuffer()), { boundary: getMultipartBoundary(mixedType)! })];
  assert.equal(parts.length, 2);
  const relatedType = parts[0]!.headers['content-type']!;
  assert.match(relatedType, /^multipart\/related; boundary=/);
  const [json, bytes] = [...parseMultipart(parts[0]!.bytes, { boundary: getMultipartBoundary(relatedType)! })];
  const first = JSON.parse(json!.text) as Record<string, unknown>;
  assert.equal(first._rev, put.rev);
  assert.deepEqual((first._revisions as { start: number }).start, 1);
  assert.deepEqual((first._attachments as Record<string, Record<string, unknown>>)['a.txt'], { ...(first._attachments as Record<string, Record<string, unknown>>)['a.txt'], follows: true, length: data.length });
  assert.equal(bytes!.filename, 'a.txt');
  assert.ok(Buffer.from(bytes!.bytes).equals(data));
  // CouchDB's replicator knows a missing revision by this header: any other JSON part is a document to it.
  assert.equal(parts[1]!.headers['content-type'], 'application/json; error="true"');
  assert.deepEqual(JSON.parse(parts[1]!.text), { missing });
  // A revision without attachments is a plain JSON part.
  const plain = await fetch(`${s.url}/db/plain?open_revs=all`, { headers: { accept: 'multipart/mixed' } });
  const plainParts = [...parseMultipart(new Uint8Array(await plain.arrayBuffer()), { boundary: getMultipartBoundary(plain.headers.get('content-type')!)! })];
  assert.deepEqual(plainParts.map((p) => [p.headers['content-type'], JSON.parse(p.text).v]), [['application/json', 2]]);

  // CouchDB negotiates: a client that takes anything (fetch's */*) gets multipart; one that asks
  // for JSON (PouchDB, nano) gets JSON.
  assert.match((await fetch(`${s.url}/db/doc?open_revs=all`)).headers.get('content-type')!, /^multipart\/mixed/);
  const asJson = await fetch(`${s.url}/db/doc?open_revs=all`, { headers: { accept: 'application/json' } });
  assert.match(asJson.headers.get('content-type')!, /application\/json/);
  assert.equal(((await asJson.json()) as Array<{ ok: { _attachments: Record<string, { stub?: boolean }> } }>)[0]!.ok._attachments['a.txt']!.stub, true);

  const rel = await fetch(`${s.url}/db/doc?attachments=true`, { headers: { accept: 'multipart/related' } });
  const relType = rel.headers.get('content-type')!;
  assert.match(relType, /^multipart\/related; boundary=/);
  const [docPart, attPart] = [...parseMultipart(new Uint8Array(await rel.arrayBuffer()), { boundary: getMultipartBoundary(relType)! })];
  const doc = JSON.parse(docPart!.text) as { _attachments: Record<string, Record<string, unknown>> };
  assert.equal(doc._attachments['a.txt']!.follows, true);
  assert.equal(doc._attachments['a.txt']!.data, undefined);
  assert.equal(attPart!.filename, 'a.txt');
  assert.equal(attPart!.headers['content-type'], 'text/plain');
  assert.ok(Buffer.from(attPart!.bytes).equals(data));
});

test('_bulk_get answers multipart to a client that takes it and not JSON: bytes after each document, errors marked', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const data = Buffer.from('bulk attached bytes');
  const put = (await (
    await fetch(`${s.url}/db/doc`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1, _attachments: { 'a.txt': { content_type: 'text/plain', data: data.toString('base64') } } }) })
  ).json()) as { rev: string };
  await fetch(`${s.url}/db/plain`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"v":2}' });
  const missing = '9-00000000000000000000000000000000';
  const body = JSON.stringify({ docs: [{ id: 'doc', rev: put.rev }, { id: 'plain' }, { id: 'doc', rev: missing }] });
  const ask = (accept: string, query = 'revs=true&attachments=true') => fetch(`${s.url}/db/_bulk_get?${query}`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body });

  // The bytes follow whether attachments=true is asked or not, as CouchDB sends them.
  for (const [type, query] of [['multipart/mixed', 'revs=true&attachments=true'], ['multipart/related', 'revs=true']] as const) {
    const res = await ask(type, query);
    assert.equal(res.status, 200);
    const outerType = res.headers.get('content-type')!;
    assert.ok(outerType.startsWith(`${type}; boundary=`), outerType);
    const parts = [...parseMultipart(new Uint8Array(await res.arrayBuffer()), { boundary: getMultipartBoundary(outerType)! })];
    assert.equal(parts.length, 3);
    // The document with an attachment: a multipart/related part, named as CouchDB names it.
    assert.equal(parts[0]!.headers['x-doc-id'], 'doc');
    assert.equal(parts[0]!.headers['x-rev-id'], put.rev);
    const innerType = parts[0]!.headers['content-type']!;
    assert.match(innerType, /^multipart\/related; boundary=/);
    const [json, bytes] = [...parseMultipart(parts[0]!.bytes, { boundary: getMultipartBoundary(innerType)! })];
    const doc = JSON.parse(json!.text) as { _rev: string; _revisions: { start: number }; _attachments: Record<string, Record<string, unknown>> };
    assert.equal(doc._rev, put.rev);
    assert.equal(doc._revisions.start, 1);
    assert.equal(doc._attachments['a.txt']!.follows, true);
    assert.equal(doc._attachments['a.txt']!.data, undefined);
    assert.equal(bytes!.filename, 'a.txt');
    assert.ok(Buffer.from(bytes!.bytes).equals(data));
    assert.equal(parts[1]!.headers['content-type'], 'application/json');
    assert.equal((JSON.parse(parts[1]!.text) as { v: number }).v, 2);
    assert.equal(parts[2]!.headers['content-type'], 'application/json; error="true"');
    assert.deepEqual(JSON.parse(parts[2]!.text), { id: 'doc', rev: missing, error: 'not_found', reason: 'missing' });
  }
  // A client that takes JSON too (PouchDB, fetch's */*) gets JSON, with the bytes inline.
  for (const accept of ['application/json', '*/*', 'multipart/mixed, application/json']) {
    const res = await ask(accept);
    assert.match(res.headers.get('content-type')!, /^application\/json/, accept);
    const got = (await res.json()) as { results: Array<{ docs: Array<{ ok?: { _attachments?: Record<string, { data?: string }> } }> }> };
    assert.equal(got.results[0]!.docs[0]!.ok!._attachments!['a.txt']!.data, data.toString('base64'));
  }
});

test('a multipart answer streams large attachments whole, and one whose bytes are gone is an error status, not a 200 cut short', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  const put = await fetch(`${s.url}/db/big/b.bin`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: big });
  assert.equal(put.status, 201);
  const related = await fetch(`${s.url}/db/big?attachments=true`, { headers: { accept: 'multipart/related' } });
  const type = related.headers.get('content-type')!;
  const [json, bytes] = [...parseMultipart(new Uint8Array(await related.arrayBuffer()), { boundary: getMultipartBoundary(type)!, maxFileSize: 16 * 1024 * 1024 })];
  assert.equal((JSON.parse(json!.text)._attachments as Record<string, { length: number }>)['b.bin']!.length, big.length);
  assert.ok(Buffer.from(bytes!.bytes).equals(big));
  // The blob goes behind the database's back: the answer says so before it starts.
  const digest = ((await (await fetch(`${s.url}/db/big`)).json()) as { _attachments: Record<string, { digest: string }> })._attachments['b.bin']!.digest;
  assert.equal(await s.server.context.node.blobs.delete(digest as never), true);
  for (const [path, accept] of [['/db/big?attachments=true', 'multipart/related'], ['/db/big?open_revs=all', 'multipart/mixed']] as const) {
    const res = await fetch(`${s.url}${path}`, { headers: { accept } });
    assert.equal(res.status, 500, path);
    assert.equal(((await res.json()) as { error: string }).error, 'internal');
  }
});

test('a replicated attachment keeps a content type no header can carry, and is served as bytes: never a 500, never an injected header', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const json = { 'content-type': 'application/json' };
  const evil = 'text/html\r\nX-Evil: 1';
  const doc = { _id: 'r', _rev: '1-' + 'a'.repeat(32), _attachments: { a: { content_type: evil, data: Buffer.from('hi').toString('base64') } } };
  // A new edit must give a type that can be served; a replicated revision keeps what it was given.
  const edit = await fetch(`${s.url}/db/e`, { method: 'PUT', headers: json, body: JSON.stringify({ _attachments: doc._attachments }) });
  assert.equal(edit.status, 400);
  const replicated = await fetch(`${s.url}/db/_bulk_docs`, { method: 'POST', headers: json, body: JSON.stringify({ new_edits: false, docs: [doc] }) });
  assert.equal(replicated.status, 201, await replicated.text());
  const att = await fetch(`${s.url}/db/r/a`);
  assert.equal(att.status, 200);
  assert.equal(att.headers.get('content-type'), 'application/octet-stream');
  assert.equal(att.headers.get('x-evil'), null);
  assert.equal(await att.text(), 'hi');
  const related = await fetch(`${s.url}/db/r?attachments=true`, { headers: { accept: 'multipart/related' } });
  const text = await related.text();
  assert.ok(!text.includes('X-Evil: 1\r\n'), text);
  assert.equal(((await (await fetch(`${s.url}/db/r`)).json()) as { _attachments: Record<string, { content_type: string }> })._attachments.a!.content_type, evil);
  // A copy is a new edit: it takes the servable type.
  const copied = await fetch(`${s.url}/db/r`, { method: 'COPY', headers: { destination: 'r2' } });
  assert.equal(copied.status, 201);
  assert.equal(((await (await fetch(`${s.url}/db/r2`)).json()) as { _attachments: Record<string, { content_type: string }> })._attachments.a!.content_type, 'application/octet-stream');
});

test('malformed multipart bodies are a 400 and write nothing', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const follows = { _attachments: { 'a.txt': { content_type: 'text/plain', follows: true, length: 5 } } };
  const cases: Array<{ label: string; type: string; body: Buffer | string }> = [
    { label: 'no boundary', type: 'multipart/related', body: 'x' },
    { label: 'not multipart', type: 'multipart/related; boundary="b"', body: 'garbage without any boundary' },
    { label: 'first part not JSON', ...related('x', []), body: Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--'), type: 'multipart/related; boundary="b"' },
    { label: 'missing part', ...related(follows, []) },
    { label: 'wrong length', ...related(follows, [{ name: 'a.txt', type: 'text/plain', bytes: Buffer.from('toolong') }]) },
    { label: 'bad gzip', ...related({ _attachments: { 'a.txt': { content_type: 'text/plain', follows: true, encoding: 'gzip' } } }, [{ name: 'a.txt', type: 'text/plain', bytes: Buffer.from('not gzip') }]) },

    // Bytes that are not UTF-8 in the JSON part's headers or text (the parser's TypeError was a 500).
    { label: 'latin1 header', type: 'multipart/related; boundary="b"', body: Buffer.from('--b\r\nContent-Type: application/json\r\nX-Name: caf\u00e9\r\n\r\n{}\r\n--b--', 'latin1') },
    { label: 'latin1 JSON', type: 'multipart/related; boundary="b"', body: Buffer.from('--b\r\nContent-Type: application/json\r\n\r\n{"a":"caf\u00e9"}\r\n--b--', 'latin1') },
  ];
  for (const c of cases) {
    const res = await fetch(`${s.url}/db/doc`, { method: 'PUT', headers: { 'content-type': c.type }, body: c.body });
    assert.equal(res.status, 400, c.label);
    assert.equal(((await res.json()) as { error: string }).error, 'bad_request', c.label);
  }
  // follows in a JSON body: its bytes cannot be anywhere.
  const res = await fetch(`${s.url}/db/doc`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(follows) });
  assert.equal(res.status, 400);
  // A digest the document names is checked, as CouchDB checks its MD5: other bytes write nothing.
  const md5 = (b: Buffer) => `md5-${createHash('md5').update(b).digest('base64')}`;
  const sha = (b: Buffer) => `sha256-${createHash('sha256').update(b).digest('hex')}`;
  const bytes = Buffer.from('hello');
  const put = (id: string, digest: string) => {
    const { body, type } = related({ _attachments: { 'a.txt': { content_type: 'text/plain', follows: true, length: 5, digest } } }, [{ name: 'a.txt', type: 'text/plain', bytes }]);
    return fetch(`${s.url}/db/${id}`, { method: 'PUT', headers: { 'content-type': type }, body });
  };
  for (const digest of [md5(Buffer.from('hullo')), sha(Buffer.from('hullo')), 'md5-AAAAAAAAAAAAAAAAAAAAAA==']) {
    const refused = await put('doc', digest);
    assert.deepEqual([refused.status, ((await refused.json()) as { error: string }).error], [400, 'content_md5_mismatch'], digest);
  }
  assert.equal((await fetch(`${s.url}/db/doc`)).status, 404);
  for (const [i, digest] of [md5(bytes), sha(bytes)].entries()) {
    assert.equal((await put(`fine${i}`, digest)).status, 201, digest);
    assert.equal(await (await fetch(`${s.url}/db/fine${i}/a.txt`)).text(), 'hello');
  }
});

test('the JSON part of a multipart/related PUT is guarded against many keys past 16,383 characters, as a JSON body is', async (t) => {
  const s = await startTestServer();
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const doc = Object.fromEntries(Array.from({ length: 300 }, (_, i) => ['k'.repeat(16_400) + i, i]));
  const { body, type } = related(doc, []);
  const res = await fetch(`${s.url}/db/longkeys`, { method: 'PUT', headers: { 'content-type': type }, body });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { reason: string }).reason, /object keys longer than 16383/);
});

/** `body` sent in pieces of `size` bytes, so that delimiters and headers fall across chunks. */
function inPieces(body: Buffer, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= body.length) return controller.close();
      controller.enqueue(body.subarray(at, (at += size)));
    },
  });
}

const put = (url: string, type: string, body: Buffer, piece = 64 * 1024) =>
  fetch(url, { method: 'PUT', headers: { 'content-type': type }, body: inPieces(body, piece), duplex: 'half' } as RequestInit);

test('a multipart/related PUT far past the body limit streams its attachments into the blob store', async (t) => {
  // A body limit of 1 MiB: the JSON part is held to it, the attachments only to the blob limit.
  const s = await startTestServer({ bodyLimit: 1024 * 1024, blobLimit: 8 * 1024 * 1024 });
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const big = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 1) big[i] = (i * 7 + (i >> 12)) & 255;
  const text = Buffer.from('streamed and gzipped '.repeat(150_000));
  const doc = {
    _id: 'big',
    _rev: '1-0123456789abcdef0123456789abcdef',
    _attachments: {
      'video.bin': { content_type: 'application/octet-stream', revpos: 1, length: big.length, follows: true },
      'notes.txt': { content_type: 'text/plain', revpos: 1, length: text.length, follows: true, encoding: 'gzip' },
    },
  };
  const { body, type } = related(doc, [
    { name: 'video.bin', type: 'application/octet-stream', bytes: big },
    { name: 'notes.txt', type: 'text/plain', bytes: gzipSync(text) },
  ]);
  assert.ok(body.length > 5 * 1024 * 1024, `the body (${body.length} bytes) is past the body limit`);
  // Pieces of 7 bytes for the first 64 KiB (every delimiter and header split), then larger ones.
  const res = await put(`${s.url}/db/big?new_edits=false`, type, body, 4099);
  assert.equal(res.status, 201, await res.clone().text());
  const got = (await (await fetch(`${s.url}/db/big`)).json()) as { _attachments: Record<string, { length: number; content_type: string }> };
  assert.equal(got._attachments['video.bin']!.length, big.length, 'the stored length');
  assert.equal(got._attachments['notes.txt']!.content_type, 'text/plain', 'the stored type');
  assert.ok(Buffer.from(await (await fetch(`${s.url}/db/big/video.bin`)).arrayBuffer()).equals(big), 'the large attachment reads back byte for byte');
  assert.ok(Buffer.from(await (await fetch(`${s.url}/db/big/notes.txt`)).arrayBuffer()).equals(text), 'the gzip attachment reads back decompressed');

  // Parts without headers, sent a few bytes at a time: each split of a delimiter is still found.
  const bare = Buffer.from(
    `--abc${CRLF}${CRLF}${JSON.stringify({ _id: 'bare', _attachments: { 'a.txt': { follows: true, content_type: 'text/plain', length: 9 } } })}${CRLF}` +
      `--abc${CRLF}${CRLF}nine byte${CRLF}--abc--`,
  );
  for (const piece of [1, 2, 3, 5, 8, 13]) {
    const r = await put(`${s.url}/db/bare${piece}`, 'multipart/related; boundary="abc"', bare, piece);
    assert.equal(r.status, 201, `pieces of ${piece}: ${await r.clone().text()}`);
    assert.equal(await (await fetch(`${s.url}/db/bare${piece}/a.txt`)).text(), 'nine byte', `pieces of ${piece}`);
  }
});

test('a streamed multipart/related PUT keeps its limits and writes nothing when refused', async (t) => {
  const s = await startTestServer({ bodyLimit: 64 * 1024, blobLimit: 256 * 1024 });
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const att = (length: number) => ({ _attachments: { 'a.bin': { content_type: 'application/octet-stream', follows: true, length } } });
  const cases: Array<{ label: string; status: number; error: string; body: Buffer; type?: string }> = [
    { label: 'an attachment past the blob limit', status: 413, error: 'too_large', ...related(att(300 * 1024), [{ type: 'application/octet-stream', bytes: Buffer.alloc(300 * 1024, 1) }]) },
    { label: 'a JSON part past the body limit', status: 413, error: 'too_large', ...related({ pad: 'x'.repeat(70 * 1024) }, []) },
    { label: 'a body cut inside an attachment', status: 400, error: 'bad_request', body: related(att(100 * 1024), [{ type: 'application/octet-stream', bytes: Buffer.alloc(100 * 1024, 2) }]).body.subarray(0, 50 * 1024) },
    { label: 'a body without its closing delimiter', status: 400, error: 'bad_request', body: related(att(3), [{ type: 'application/octet-stream', bytes: Buffer.from('abc') }]).body.subarray(0, -8) },
  ];
  for (const c of cases) {
    const res = await put(`${s.url}/db/doc`, c.type ?? related({}, []).type, c.body, 16 * 1024);
    assert.equal(res.status, c.status, `${c.label}: ${await res.clone().text()}`);
    assert.equal(((await res.json()) as { error: string }).error, c.error, c.label);
    assert.equal((await fetch(`${s.url}/db/doc`)).status, 404, `${c.label}: nothing written`);
  }
  // multipart/related is a document's form only: elsewhere it is refused, as CouchDB does.
  const elsewhere = await fetch(`${s.url}/db`, { method: 'POST', headers: { 'content-type': related({}, []).type }, body: related({ _id: 'x' }, []).body });
  assert.equal(elsewhere.status, 415, 'POST /db');
});

test('a client that leaves in the middle of a streamed attachment leaves no staged bytes and no document', async (t) => {
  const s = await startTestServer({ engine: 'leveldb' });
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const tmp = join(s.node.dataDir!, 'blobs', 'tmp');
  const parts = () => readdirSync(tmp).filter((name) => name.endsWith('.part'));
  const { body, type } = related({ _attachments: { 'a.bin': { content_type: 'application/octet-stream', follows: true, length: 4 * 1024 * 1024 } } }, [
    { type: 'application/octet-stream', bytes: Buffer.alloc(4 * 1024 * 1024, 5) },
  ]);
  const url = new URL(s.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`PUT /db/left HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, 1024 * 1024));
  // The attachment is being staged: the client goes.
  await until(() => parts().length > 0);
  socket.destroy();
  await until(() => parts().length === 0);
  assert.equal((await fetch(`${s.url}/db/left`)).status, 404, 'no document');
  const again = await fetch(`${s.url}/db/right`, { method: 'PUT', headers: { 'content-type': type }, body });
  assert.equal(again.status, 201, 'the next upload is stored');
});
