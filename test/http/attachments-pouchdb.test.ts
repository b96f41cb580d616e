// Attachments between PouchDB and a Refuge server: pushed by PouchDB, stored as blobs, read over
// HTTP, and pulled back into another PouchDB byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from './server.ts';
import { localPouch, PouchDB } from './pouchdb.ts';

test('PouchDB attachments replicate to Refuge and back unchanged', async (t) => {
  const server = await startTestServer({ engine: 'leveldb' });
  t.after(() => server.close());
  const pa = await localPouch();
  const pb = await localPouch();
  t.after(pa.cleanup);
  t.after(pb.cleanup);
  const a = new pa.Local('a');
  const b = new pb.Local('b');
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
  await a.put({ _id: 'img', _attachments: { 'pic.bin': { content_type: 'application/octet-stream', data: bytes.toString('base64') } } });
  await a.putAttachment('note', 'n.txt', Buffer.from('a note'), 'text/plain');
  const remote = new PouchDB(`${server.url}/atts`);
  const push = await a.replicate.to(remote);
  assert.equal(push.docs_written, 2);
  const raw = await fetch(`${server.url}/atts/img/pic.bin`);
  assert.equal(raw.status, 200);
  assert.deepEqual(Buffer.from(await raw.arrayBuffer()), bytes);
  const pull = await b.replicate.from(remote);
  assert.equal(pull.docs_written, 2);
  const back = await b.getAttachment('img', 'pic.bin');
  assert.deepEqual(Buffer.from(back as Buffer), bytes);
  assert.equal(String(await b.getAttachment('note', 'n.txt')), 'a note');
  assert.equal((await b.get('img'))._rev, (await a.get('img'))._rev);
});

test('PouchDB allDocs and changes with attachments: true get the data, not stubs', async (t) => {
  const server = await startTestServer({ engine: 'leveldb' });
  t.after(() => server.close());
  const remote = new PouchDB(`${server.url}/listed`);
  await remote.put({ _id: 'a', _attachments: { 'x.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } });
  await remote.put({ _id: 'b' });
  const data = (doc: any) => doc?._attachments?.['x.txt']?.data;
  const all = await remote.allDocs({ include_docs: true, attachments: true });
  assert.equal(data(all.rows[0]!.doc), 'aGVsbG8=');
  const stubs = await remote.allDocs({ include_docs: true });
  assert.equal(stubs.rows[0]!.doc._attachments['x.txt'].stub, true);
  const keyed = await remote.allDocs({ keys: ['a'], include_docs: true, attachments: true });
  assert.equal(data(keyed.rows[0]!.doc), 'aGVsbG8=');
  const changes = await remote.changes({ include_docs: true, attachments: true });
  assert.equal(data(changes.results.find((r: any) => r.id === 'a')!.doc), 'aGVsbG8=');
  const binary = await remote.allDocs({ include_docs: true, attachments: true, binary: true });
  assert.equal(String(binary.rows[0]!.doc._attachments['x.txt'].data), 'hello');
});
