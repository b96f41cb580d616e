// `update_seq=true` where CouchDB 3 writes it: in the meta before "rows" (couch_mrview_http:view_cb
// writes total_rows, offset, then update_seq, then opens rows), for views, reduce views and
// _all_docs alike; only in the queries that ask for it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('update_seq in a listing, as CouchDB places it', () => {
  let server: TestServer;
  let db: string;
  let seq: number;

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/seqs`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const views = { byId: { map: 'function (doc) { if (doc.n) emit(doc._id, doc.n); }' }, total: { map: 'function (doc) { if (doc.n) emit(doc._id, doc.n); }', reduce: '_sum' } };
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }, { _id: '_design/d', views }] } })).status, 201);
    assert.equal((await request(`${db}/_local/l`, { method: 'PUT', body: {} })).status, 201);
    seq = (await request(db)).body.update_seq as number;
  });
  after(() => server.close());

  test('views: after total_rows and offset, before rows; a reduce view has it alone before rows', async () => {
    const map = await request(`${db}/_design/d/_view/byId?update_seq=true`);
    assert.equal(map.text.startsWith(`{"total_rows":2,"offset":0,"update_seq":${seq},"rows":[`), true, map.text);
    const posted = await request(`${db}/_design/d/_view/byId`, { method: 'POST', body: { update_seq: true, limit: 1 } });
    assert.deepEqual(Object.keys(posted.body), ['total_rows', 'offset', 'update_seq', 'rows']);
    const reduced = await request(`${db}/_design/d/_view/total?update_seq=true`);
    assert.equal(reduced.text, `{"update_seq":${seq},"rows":[{"key":null,"value":3}]}`);
    const many = await request(`${db}/_design/d/_view/byId/queries`, { method: 'POST', body: { queries: [{ update_seq: true }, {}] } });
    assert.deepEqual(many.body.results.map((r: object) => Object.keys(r)), [['total_rows', 'offset', 'update_seq', 'rows'], ['total_rows', 'offset', 'rows']]);
  });

  test('_all_docs, _design_docs, _local_docs: the same place, streamed or not', async () => {
    const all = await request(`${db}/_all_docs?update_seq=true`);
    assert.equal(all.text.startsWith(`{"total_rows":3,"offset":0,"update_seq":${seq},"rows":[`), true, all.text);
    assert.equal(all.text.endsWith(']}'), true);
    const posted = await request(`${db}/_all_docs`, { method: 'POST', body: { update_seq: true, keys: ['a'] } });
    assert.deepEqual(Object.keys(posted.body), ['total_rows', 'offset', 'update_seq', 'rows']);
    const design = await request(`${db}/_design_docs?update_seq=true`);
    assert.deepEqual(Object.keys(design.body), ['total_rows', 'offset', 'update_seq', 'rows']);
    const local = await request(`${db}/_local_docs?update_seq=true`);
    assert.equal(local.text.startsWith('{"total_rows":null,"offset":null,"update_seq":null,"rows":['), true, local.text);
    const many = await request(`${db}/_all_docs/queries`, { method: 'POST', body: { queries: [{ update_seq: true }, { limit: 1 }] } });
    assert.deepEqual(many.body.results.map((r: object) => Object.keys(r)), [['total_rows', 'offset', 'update_seq', 'rows'], ['total_rows', 'offset', 'rows']]);
    assert.equal(many.body.results[0].update_seq, seq);
    // Not asked, not there.
    assert.deepEqual(Object.keys((await request(`${db}/_all_docs`)).body), ['total_rows', 'offset', 'rows']);
  });
});
