// Request bodies sent gzip-encoded are read as the bytes they encode (JSON, multipart, attachments),
// never past the body limit; an encoding Refuge cannot read is a 415 and writes nothing, a transfer
// coding other than chunked a 501.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { socketRequest } from './raw-http.ts';
import { request, startTestServer } from './server.ts';

test('gzip bodies are read decompressed; unknown encodings are 415; a zip bomb is 413', async (t) => {
  const server = await startTestServer({ bodyLimit: 1024 * 1024 });
  t.after(() => server.close());
  const db = `${server.url}/enc`;
  assert.equal((await request(db, { method: 'PUT' })).status, 201);
  const post = (path: string, body: Uint8Array, headers: Record<string, string>) =>
    fetch(`${db}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  const docs = { docs: [{ _id: 'a', v: 1 }, { _id: 'b', v: 2 }] };
  const zipped = await post('/_bulk_docs', gzipSync(JSON.stringify(docs)), { 'content-encoding': 'gzip' });
  assert.equal(zipped.status, 201, await zipped.clone().text());
  assert.equal((await request(`${db}/b`)).body.v, 2);

  // An attachment sent gzip-encoded is stored as the bytes it encodes.
  const text = 'hello, compressed world '.repeat(100);
  const rev = (await request(`${db}/a`)).body._rev as string;
  const att = await fetch(`${db}/a/t.txt?rev=${rev}`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body: gzipSync(text) });
  assert.equal(att.status, 201, await att.clone().text());
  assert.equal(await (await fetch(`${db}/a/t.txt`)).text(), text);

  for (const encoding of ['br', 'deflate', 'compress']) {
    const refused = await post('/_bulk_docs', Buffer.from(JSON.stringify({ docs: [{ _id: `x-${encoding}` }] })), { 'content-encoding': encoding });
    assert.equal(refused.status, 415, encoding);
    assert.equal(((await refused.json()) as { error: string }).error, 'bad_content_type');
    assert.equal((await request(`${db}/x-${encoding}`)).status, 404);
  }
  // Plain bytes said to be gzip are not gzip.
  const lying = await post('/_bulk_docs', Buffer.from(JSON.stringify({ docs: [{ _id: 'lie' }] })), { 'content-encoding': 'gzip' });
  assert.equal(lying.status, 400);
  // Nor as an attachment, streamed (zlib's error was a 500), whole or cut short.
  const rev2 = (await request(`${db}/a`)).body._rev as string;
  for (const body of [Buffer.from('plain bytes'), gzipSync(text).subarray(0, 20)]) {
    const lyingAtt = await fetch(`${db}/a/lie.txt?rev=${rev2}`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body });
    assert.deepEqual([lyingAtt.status, ((await lyingAtt.json()) as { error: string }).error], [400, 'bad_request']);
  }
  assert.equal((await request(`${db}/a`)).body._rev, rev2);
  // 8 MB of JSON in a few kilobytes: past the 1 MiB body limit once decompressed.
  const bomb = gzipSync(JSON.stringify({ docs: [{ _id: 'bomb', pad: ' '.repeat(8 * 1024 * 1024) }] }));
  assert.ok(bomb.length < 64 * 1024);
  const exploded = await post('/_bulk_docs', bomb, { 'content-encoding': 'gzip' });
  assert.equal(exploded.status, 413);
  assert.equal((await request(`${db}/bomb`)).status, 404);
  assert.equal((await request(db)).body.doc_count, 2);
});

test('an attachment sent gzip-encoded but refused before its body is read (no such database, a stale revision) leaves the node running', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  assert.equal((await request(`${server.url}/gz`, { method: 'PUT' })).status, 201);
  const rev = (await request(`${server.url}/gz/doc`, { method: 'PUT', body: {} })).body.rev as string;
  await request(`${server.url}/gz/doc`, { method: 'PUT', body: { _rev: rev, v: 2 } });
  // Bytes that are not gzip went into a gunzip nobody read: its error was uncaught and ended the process.
  for (const [path, status] of [['/nodb/doc/a.txt', 404], [`/gz/doc/a.txt?rev=${rev}`, 409]] as const) {
    const res = await fetch(`${server.url}${path}`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body: 'plain bytes, not gzip' });
    assert.equal(res.status, status, path);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await request(`${server.url}/_up`)).status, 200, 'still running');
  }
});

test('a transfer coding other than chunked is 501 before the body is read, and writes nothing', { timeout: 20_000 }, async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const db = `${server.url}/te`;
  assert.equal((await request(db, { method: 'PUT' })).status, 201);
  const gz = gzipSync('{"docs":[{"_id":"x"}]}');
  const chunk = Buffer.concat([Buffer.from(`${gz.length.toString(16)}\r\n`), gz, Buffer.from('\r\n')]);
  // Sent whole, a gzip-coded attachment would be stored as its compressed bytes.
  const whole = `PUT /te/d/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`;
  assert.equal((await socketRequest(server.server.port, Buffer.concat([Buffer.from(whole), chunk, Buffer.from('0\r\n\r\n')]))).status, 501);
  for (const [method, path, te] of [['PUT', '/te/d/a.txt', 'gzip, chunked'], ['POST', '/te/_bulk_docs', 'gzip, chunked'], ['PUT', '/te/d', 'deflate,chunked'], ['PUT', '/te/d', 'x-custom ,  chunked']] as const) {
    // The last chunk is never sent: the answer must come without the body, and the server ends
    // the connection (socketRequest resolves on close) rather than wait to read it through.
    const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\nTransfer-Encoding: ${te}\r\n\r\n`;
    const res = await socketRequest(server.server.port, Buffer.concat([Buffer.from(head), chunk]));
    assert.equal(res.status, 501, `${path} ${te}: ${res.text}`);
    assert.equal(JSON.parse(res.text).error, 'not_implemented');
    assert.equal(res.headers.connection, 'close');
  }
  assert.equal((await request(`${db}/d`)).status, 404);
  assert.equal((await request(`${db}/x`)).status, 404);
  // Chunked alone is read as ever.
  const chunked = `PUT /te/c HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"v":1}\r\n0\r\n\r\n`;
  assert.equal((await socketRequest(server.server.port, chunked)).status, 201);
  assert.equal((await request(`${db}/c`)).body.v, 1);
});
