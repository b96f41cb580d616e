// include_docs with a linked document (an emitted `{_id}`), as CouchDB 3 answers it: the linked
// document is opened without options (fabric_view:possibly_embed_doc), so `conflicts=true` and
// `attachments=true` add nothing to it; the row's own document gets both.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('include_docs of linked documents', () => {
  let server: TestServer;
  let db: string;
  const loser = '1-ffffffffffffffffffffffffffffffff';

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/linked`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    // A document with an attachment and a conflicting (losing) branch, twice: one linked to, one not.
    for (const id of ['target', 'own']) {
      const first = await request(`${db}/${id}`, { method: 'PUT', body: { v: 1, _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hi').toString('base64') } } } });
      assert.equal(first.status, 201, first.text);
      const second = await request(`${db}/${id}`, { method: 'PUT', body: { _rev: first.body.rev, v: 2, _attachments: { 'a.txt': { stub: true } } } });
      assert.equal(second.status, 201, second.text);
      const conflict = await request(`${db}/_bulk_docs`, { method: 'POST', body: { new_edits: false, docs: [{ _id: id, _rev: loser, v: 0 }] } });
      assert.equal(conflict.status, 201, conflict.text);
    }
    assert.equal((await request(`${db}/linker`, { method: 'PUT', body: { to: 'target' } })).status, 201);
    const views = { v: { map: 'function (doc) { if (doc.to) emit(doc._id, { _id: doc.to }); else if (doc._id === "own") emit(doc._id, null); }' } };
    assert.equal((await request(`${db}/_design/d`, { method: 'PUT', body: { views } })).status, 201);
  });
  after(() => server.close());

  test('conflicts=true and attachments=true reach the row\'s own document only', async () => {
    const r = await request(`${db}/_design/d/_view/v?include_docs=true&conflicts=true&attachments=true`);
    assert.equal(r.status, 200, r.text);
    const [linker, own] = r.body.rows as Array<{ id: string; doc: Record<string, unknown> & { _attachments: Record<string, Record<string, unknown>> } }>;
    assert.equal(linker!.id, 'linker');
    assert.equal(linker!.doc._id, 'target');
    assert.equal(linker!.doc._conflicts, undefined);
    assert.equal(linker!.doc._attachments['a.txt']!.stub, true);
    assert.equal(linker!.doc._attachments['a.txt']!.data, undefined);
    assert.equal(own!.id, 'own');
    assert.deepEqual(own!.doc._conflicts, [loser]);
    assert.equal(own!.doc._attachments['a.txt']!.data, Buffer.from('hi').toString('base64'));
    // The linked document as a plain read gives it.
    const plain = await request(`${db}/target`);
    assert.deepEqual(linker!.doc, plain.body);
  });
});
