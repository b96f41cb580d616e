// JSON document writes larger than the body limit are read as they arrive: PouchDB pushes
// attachments inline as base64, a batch at a time, and CouchDB takes bodies up to 4 GB. Long
// attachment data goes to the blob store; the rest of the body is still held to the limit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { until } from '../helpers/until.ts';
import { localPouch, PouchDB, revisionTrees } from './pouchdb.ts';
import { startTestServer } from './server.ts';

const LIMIT = 1024 * 1024;
const bytesOf = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) % 256));
const inline = (bytes: Buffer, type = 'application/octet-stream') => ({ content_type: type, data: bytes.toString('base64') });

async function attachment(url: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

async function docCount(url: string): Promise<number> {
  return ((await (await fetch(url)).json()) as { doc_count: number }).doc_count;
}

test('PouchDB pushes a batch of attachments larger than the body limit, and pulls it back unchanged', async (t) => {
  const server = await startTestServer({ engine: 'leveldb', bodyLimit: LIMIT });
  t.after(() => server.close());
  const pouch = await localPouch();
  t.after(pouch.cleanup);
  const a = new pouch.Local('a');
  const docs = [];
  for (let i = 0; i < 12; i++) docs.push({ _id: `photo${i}`, n: i, _attachments: { 'p.jpg': inline(bytesOf(150_000 + i, i), 'image/jpeg') } });
  docs.push({ _id: 'small', _attachments: { 's.txt': inline(Buffer.from('small one'), 'text/plain') } });
  docs.push({ _id: 'plain', text: 'no attachments' });
  await a.bulkDocs(docs);
  const remote = new PouchDB(`${server.url}/photos`);
  const push = await a.replicate.to(remote);
  assert.equal(push.docs_written, 14, 'every document written, in one batch past the limit');
  assert.equal(push.doc_write_failures, 0);
  for (let i = 0; i < 12; i++) assert.deepEqual(await attachment(`${server.url}/photos/photo${i}/p.jpg`), bytesOf(150_000 + i, i), `photo${i}'s bytes`);
  assert.equal(String(await attachment(`${server.url}/photos/small/s.txt`)), 'small one');
  const b = new pouch.Local('b');
  const pull = await b.replicate.from(remote);
  assert.equal(pull.docs_written, 14);
  assert.deepEqual(await revisionTrees(b), await revisionTrees(a), 'the same documents, revisions and attachments');
  assert.deepEqual(Buffer.from((await b.getAttachment('photo3', 'p.jpg')) as Buffer), bytesOf(150_003, 3));
});

test('a document PUT or POST with an attachment past the body limit, sized or chunked, gzip-encoded or not', async (t) => {
  const server = await startTestServer({ engine: 'leveldb', bodyLimit: LIMIT });
  t.after(() => server.close());
  await fetch(`${server.url}/db`, { method: 'PUT' });
  const big = bytesOf(3_000_000, 7);
  const doc = { title: 'report', _attachments: { 'r.pdf': inline(big, 'application/pdf') } };
  const put = await fetch(`${server.url}/db/report`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
  assert.equal(put.status, 201, 'PUT');
  assert.deepEqual(await attachment(`${server.url}/db/report/r.pdf`), big);
  const stub = (await (await fetch(`${server.url}/db/report`)).json()) as { title: string; _attachments: Record<string, { length: number; content_type: string; stub: boolean }> };
  assert.equal(stub.title, 'report');
  assert.deepEqual([stub._attachments['r.pdf']!.length, stub._attachments['r.pdf']!.content_type, stub._attachments['r.pdf']!.stub], [3_000_000, 'application/pdf', true]);

  const post = await fetch(`${server.url}/db`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ _id: 'posted', ...doc }) });
  assert.equal(post.status, 201, 'POST /db');
  assert.deepEqual(await attachment(`${server.url}/db/posted/r.pdf`), big);

  const gz = await fetch(`${server.url}/db/zipped`, { method: 'PUT', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ _attachments: { 'z.bin': inline(big) } }), { level: 1 }) });
  assert.equal(gz.status, 201, 'gzip-encoded');
  assert.deepEqual(await attachment(`${server.url}/db/zipped/z.bin`), big);

  // No Content-Length: read within the limit first, then streamed, the bytes read so far included.
  const chunked = await new Promise<number>((resolve, reject) => {
    const url = new URL(`${server.url}/db/_bulk_docs`);
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    const text = Buffer.from(JSON.stringify({ docs: [{ _id: 'c1', _attachments: { 'c.bin': inline(big) } }, { _id: 'c2', _attachments: { 'c.bin': inline(big.subarray(0, 900_000)) } }] }));
    for (let at = 0; at < text.length; at += 100_000) req.write(text.subarray(at, at + 100_000));
    req.end();
  });
  assert.equal(chunked, 201, 'chunked _bulk_docs');
  assert.deepEqual(await attachment(`${server.url}/db/c1/c.bin`), big);
  assert.deepEqual(await attachment(`${server.url}/db/c2/c.bin`), big.subarray(0, 900_000));
});

test('past the body limit: the JSON is still held to it, attachments to the blob limit, bad data fails its document', async (t) => {
  const server = await startTestServer({ engine: 'leveldb', bodyLimit: LIMIT, blobLimit: 2_000_000 });
  t.after(() => server.close());
  await fetch(`${server.url}/db`, { method: 'PUT' });
  const post = (path: string, body: unknown) => fetch(`${server.url}/db/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const att = inline(bytesOf(800_000, 1));

  const long = await post('_bulk_docs', { docs: [{ _id: 'a', _attachments: { x: att } }, { _id: 'b', text: 'x'.repeat(1_200_000) }] });
  assert.equal(long.status, 413, 'a long field that is not attachment data');
  assert.equal(((await long.json()) as { error: string }).error, 'too_large');
  const huge = await post('_bulk_docs', { docs: [{ _id: 'c', _attachments: { x: inline(bytesOf(2_500_000, 2)) } }] });
  assert.equal(huge.status, 413, 'an attachment past the blob limit');
  assert.equal(await docCount(`${server.url}/db`), 0, 'nothing written');

  const bad = att.data.slice(0, 500_000) + '%' + att.data.slice(500_000);
  const mixed = await post('_bulk_docs', { docs: [{ _id: 'ok', _attachments: { x: att } }, { _id: 'bad', _attachments: { x: { ...att, data: bad } } }] });
  assert.equal(mixed.status, 201);
  const rows = (await mixed.json()) as Array<{ id: string; ok?: boolean; error?: string; reason?: string }>;
  assert.equal(rows[0]!.ok, true);
  assert.deepEqual([rows[1]!.id, rows[1]!.error, rows[1]!.reason], ['bad', 'bad_request', 'Invalid attachment data for x'], 'as within the limit');
  assert.deepEqual(await attachment(`${server.url}/db/ok/x`), bytesOf(800_000, 1));

  const other = await post('_revs_diff', { a: Array.from({ length: 40_000 }, (_, i) => `1-${String(i).padStart(32, '0')}`) });
  assert.equal(other.status, 413, 'endpoints that write no documents keep the limit');
  const local = await fetch(`${server.url}/db/_local/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ _attachments: { x: att } }) });
  assert.equal(local.status, 413, 'local documents keep the limit');
  const broken = await fetch(`${server.url}/db/broken`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ _attachments: { x: att } }).slice(0, -3) });
  assert.equal(broken.status, 400, 'a body that ends too soon');
  assert.equal(await docCount(`${server.url}/db`), 1, 'only the good document');
});

test('a client that leaves in the middle of streamed inline data leaves no staged bytes and no document', async (t) => {
  const s = await startTestServer({ engine: 'leveldb', bodyLimit: LIMIT });
  t.after(s.close);
  await fetch(`${s.url}/db`, { method: 'PUT' });
  const tmp = join(s.node.dataDir!, 'blobs', 'tmp');
  const parts = () => readdirSync(tmp).filter((name) => name.endsWith('.part'));
  const body = Buffer.from(JSON.stringify({ _attachments: { 'a.bin': inline(bytesOf(4_000_000, 3)) } }));
  const url = new URL(s.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`PUT /db/left HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, 2_000_000));
  await until(() => parts().length > 0);
  socket.destroy();
  await until(() => parts().length === 0);
  assert.equal((await fetch(`${s.url}/db/left`)).status, 404, 'no document');
  const again = await fetch(`${s.url}/db/right`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
  assert.equal(again.status, 201, 'the next one is stored');
});
