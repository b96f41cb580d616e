// Size limits over HTTP. CouchDB's max_document_size: a document whose JSON is past it refuses its
// request with 413 and its id (a whole _bulk_docs too, as CouchDB 3 answers), attachments aside; a
// replicator pushing such a document halves its batches until it finds it, skips it and writes the
// rest. The blob limit holds for attachments uploaded alone as for /_blobs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpPeer, LocalPeer, replicate } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { request, startTestServer, type TestServer } from './server.ts';

const LIMIT = 2000;

describe('max_document_size', () => {
  let server: TestServer;
  let db: string;

  before(async () => {
    server = await startTestServer({ maxDocumentSize: LIMIT, blobLimit: 5000 });
    db = `${server.url}/sized`;
    await request(db, { method: 'PUT' });
  });
  after(() => server.close());

  const big = (id: string) => ({ _id: id, text: 'x'.repeat(LIMIT) });

  test('PUT, POST and _bulk_docs refuse a document past the limit with 413 and its id; nothing is written', async () => {
    const put = await request(`${db}/big`, { method: 'PUT', body: { text: 'x'.repeat(LIMIT) } });
    assert.deepEqual([put.status, put.body], [413, { error: 'document_too_large', reason: 'big' }]);
    const post = await request(db, { method: 'POST', body: big('posted') });
    assert.deepEqual([post.status, post.body], [413, { error: 'document_too_large', reason: 'posted' }]);
    const bulk = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'small' }, big('inbulk')] } });
    assert.deepEqual([bulk.status, bulk.body], [413, { error: 'document_too_large', reason: 'inbulk' }]);
    assert.equal((await request(db)).body.doc_count, 0);
    // Just under the limit passes, and so does a small document with a large inline attachment.
    assert.equal((await request(`${db}/fits`, { method: 'PUT', body: { text: 'x'.repeat(LIMIT - 100) } })).status, 201);
    const data = Buffer.alloc(LIMIT * 3, 7).toString('base64');
    const withAtt = await request(`${db}/att`, { method: 'PUT', body: { _attachments: { 'a.bin': { content_type: 'application/octet-stream', data } } } });
    assert.equal(withAtt.status, 201, withAtt.text);
    assert.equal((await request(db)).body.doc_count, 2);
  });

  test('an attachment past the blob limit is refused with 413 whether its length is declared or not; nothing is stored', async () => {
    const put = (id: string, body: Uint8Array | ReadableStream<Uint8Array>) =>
      fetch(`${db}/${id}/a.bin`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' }, duplex: 'half' } as RequestInit);
    assert.equal((await put('att-big', new Uint8Array(6000))).status, 413);
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 6; i++) c.enqueue(new Uint8Array(1000));
        c.close();
      },
    });
    assert.equal((await put('att-chunked', chunked)).status, 413);
    for (const id of ['att-big', 'att-chunked']) assert.equal((await request(`${db}/${id}`)).status, 404);
    assert.equal((await put('att-fits', new Uint8Array(4000))).status, 201);
  });

  test('a replicator pushing a too-large document skips it as a write failure and writes the rest', async (t) => {
    const { db: local, cleanup } = await freshDb('memory');
    t.after(cleanup);
    await local.bulkDocs([...Array.from({ length: 9 }, (_, i) => ({ _id: `r${i}`, n: i })), big('rbig')]);
    const report = await replicate(new LocalPeer(local), new HttpPeer(`${server.url}/pushed`), { createTarget: true }).done;
    assert.equal(report.docsWritten, 9);
    assert.equal(report.docWriteFailures, 1);
    const ids = (await request(`${server.url}/pushed/_all_docs`)).body.rows.map((r: { id: string }) => r.id);
    assert.deepEqual(ids, Array.from({ length: 9 }, (_, i) => `r${i}`));
  });
});
