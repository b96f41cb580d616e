// `_all_docs` (and `_design_docs`, `_local_docs`) with a key, startkey or endkey that is no string:
// accepted, as CouchDB 3 accepts them, and placed before every id as Erlang term order places any
// number, null, boolean, array or object before every string (couch_mrview_util:ad_skey_opts).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('_all_docs with keys that are no strings', () => {
  let server: TestServer;
  let db: string;
  const idsOf = async (path: string, body?: Record<string, unknown>) => {
    const r = await request(`${db}/${path}`, body === undefined ? {} : { method: 'POST', body });
    assert.equal(r.status, 200, `${path} ${r.text}`);
    return (r.body.rows as Array<{ id?: string; key: unknown }>).map((row) => row.id ?? row.key);
  };

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/foreign`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const docs = [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }, { _id: '_design/d' }];
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    assert.equal((await request(`${db}/_local/l`, { method: 'PUT', body: {} })).status, 201);
  });
  after(() => server.close());

  test('key: names no document, so nothing is listed', async () => {
    for (const key of ['1', 'null', 'true', '%5B%5D', '%7B%7D']) assert.deepEqual(await idsOf(`_all_docs?key=${key}`), [], key);
    assert.deepEqual(await idsOf('_all_docs', { key: { a: 1 } }), []);
    assert.deepEqual(await idsOf('_design_docs?key=1'), []);
    assert.deepEqual(await idsOf('_local_docs?key=1'), []);
  });

  test('startkey and endkey: before every id, whichever the direction', async () => {
    assert.deepEqual(await idsOf('_all_docs?startkey=1'), ['_design/d', 'a', 'b', 'c']);
    assert.deepEqual(await idsOf('_all_docs?start_key=null&end_key=%22b%22'), ['_design/d', 'a', 'b']);
    assert.deepEqual(await idsOf('_all_docs', { startkey: 5, limit: 2, skip: 1 }), ['a', 'b']);
    for (const end of ['1', 'null', '%5B%5D']) {
      assert.deepEqual(await idsOf(`_all_docs?endkey=${end}`), [], end);
      assert.deepEqual(await idsOf(`_all_docs?endkey=${end}&inclusive_end=false`), [], end);
    }
    assert.deepEqual(await idsOf('_all_docs?descending=true&startkey=1'), []);
    assert.deepEqual(await idsOf('_all_docs?descending=true&endkey=null'), ['c', 'b', 'a', '_design/d']);
    assert.deepEqual(await idsOf('_design_docs?startkey=1'), ['_design/d']);
    assert.deepEqual(await idsOf('_local_docs?startkey=false'), ['_local/l']);
    const answer = await request(`${db}/_all_docs?startkey=1&limit=1`);
    assert.deepEqual([answer.body.total_rows, answer.body.offset], [4, 0]);
  });

  test('keys: still one not_found row per key that is no string, as before', async () => {
    assert.deepEqual(await idsOf('_all_docs', { keys: [1, null, 'a'] }), [1, null, 'a']);
  });
});
