// Listings read with CouchDB's view parameter parser (couch_mrview_http:parse_params): `_all_dbs`
// takes `_all_docs`'s keys, a key that is no string placed before every name as Erlang term order
// places it (chttpd_misc:handle_all_dbs_info_req lists its database of databases as `_all_docs`);
// and counts are Erlang integers, so one past 2^53 is taken, by views, `_all_docs` and `_all_dbs`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

const HUGE = '100000000000000000000';

describe('listing parameters as couch_mrview_http parses them', () => {
  let server: TestServer;
  let db: string;
  const names = async (qs: string) => {
    const r = await request(`${server.url}/_all_dbs?${qs}`);
    assert.equal(r.status, 200, `${qs} ${r.text}`);
    return (r.body as string[]).filter((n) => !n.startsWith('_'));
  };
  const ids = async (path: string) => {
    const r = await request(`${db}/${path}`);
    assert.equal(r.status, 200, `${path} ${r.text}`);
    return (r.body.rows as Array<{ id: string }>).map((row) => row.id);
  };

  before(async () => {
    server = await startTestServer();
    for (const name of ['alpha', 'beta', 'gamma']) assert.equal((await request(`${server.url}/${name}`, { method: 'PUT' })).status, 201);
    db = `${server.url}/alpha`;
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a' }, { _id: 'b' }] } })).status, 201);
    const views = { v: { map: 'function (doc) { emit(doc._id, 1); }', reduce: '_count' } };
    assert.equal((await request(`${db}/_design/d`, { method: 'PUT', body: { views } })).status, 201);
  });
  after(() => server.close());

  test('_all_dbs: a key that is no string sorts before every name', async () => {
    assert.deepEqual(await names('startkey=5'), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names('start_key=null&endkey=%22beta%22'), ['alpha', 'beta']);
    assert.deepEqual(await names('endkey=%5B%5D'), []);
    assert.deepEqual(await names('descending=true&startkey=%7B%7D'), []);
    assert.deepEqual(await names('descending=true&endkey=true'), ['gamma', 'beta', 'alpha']);
    assert.deepEqual(await names('key=5'), []);
    assert.deepEqual(await names('key=%22beta%22'), ['beta']);
  });

  test('counts past 2^53 are taken', async () => {
    assert.deepEqual(await names(`limit=${HUGE}`), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names(`skip=${HUGE}`), []);
    assert.deepEqual(await ids(`_all_docs?limit=${HUGE}`), ['_design/d', 'a', 'b']);
    assert.deepEqual(await ids(`_all_docs?skip=${HUGE}`), []);
    assert.deepEqual(await ids(`_design/d/_view/v?reduce=false&limit=${HUGE}`), ['a', 'b']);
    assert.deepEqual(await ids(`_design/d/_view/v?reduce=false&skip=${HUGE}`), []);
    const grouped = await request(`${db}/_design/d/_view/v?group_level=${HUGE}`);
    assert.deepEqual(grouped.body.rows, [{ key: 'a', value: 1 }, { key: 'b', value: 1 }]);
    // The same number in a POST body.
    const posted = await request(`${db}/_design/d/_view/v`, { method: 'POST', raw: `{"reduce":false,"limit":${HUGE}}`, headers: { 'content-type': 'application/json' } });
    assert.deepEqual([posted.status, posted.body.rows.length], [200, 2]);
    // Below zero is still refused, however large.
    const negative = await request(`${db}/_design/d/_view/v?limit=-${HUGE}`);
    assert.deepEqual([negative.status, negative.body.error], [400, 'query_parse_error']);
  });
});
