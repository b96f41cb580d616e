// `_index` requests CouchDB refuses, refused with its error names and statuses (mango_opts,
// mango_idx, mango_idx_view, mango_sort, mango_util), creating nothing; and DELETE's one not_found.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_index errors, as CouchDB names them', () => {
  let server: TestServer;
  let url: string;
  const post = (body: unknown) => request(`${url}/_index`, { method: 'POST', body });

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    url = `${server.url}/idx-errors`;
    assert.equal((await request(url, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${url}/_design/js`, { method: 'PUT', body: { views: { v: { map: 'function (doc) { emit(doc.n); }' } } } })).status, 201);
  });
  after(() => server.close());

  test('POST _index: each bad body with its CouchDB error, and no design document made', async () => {
    const fields = { fields: ['n'] };
    const cases: Array<[unknown, string, string]> = [
      [{ index: fields, ddoc: 5 }, 'invalid_string', 'Invalid string: 5'],
      [{ index: fields, name: ['x'] }, 'invalid_string', 'Invalid string: ["x"]'],
      [{ index: fields, type: 1 }, 'invalid_string', 'Invalid string: 1'],
      [{ index: fields, w: 'x' }, 'invalid_pos_integer', '"x" is not an integer greater than zero'],
      [{ index: fields, type: 'geo' }, 'invalid_index', 'Invalid type for index: geo'],
      [{ index: 'n' }, 'invalid_index', 'JSON indexes must be an object, not: "n"'],
      [{ index: {} }, 'missing_required_key', 'Missing required key: fields'],
      [{ index: { fields: 'n' } }, 'invalid_sort_json', 'Sort must be an array of sort specs, not: "n"'],
      [{ index: { fields: [5] } }, 'invalid_sort_field', 'Invalid sort field: 5'],
      [{ index: { fields: [{ n: 'up' }] } }, 'invalid_sort_field', 'Invalid sort field: {"n":"up"}'],
      // `selector` names a text index's filter; a json index's is partial_filter_selector.
      [{ index: { fields: ['n'], selector: { n: 1 } } }, 'invalid_key', 'Invalid key selector for this request.'],
      [{ index: fields, ddoc: 'js' }, 'invalid_ddoc_lang', 'Existing design doc has an invalid language: false'],
    ];
    for (const [body, error, reason] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(r.body, { error, reason }, JSON.stringify(body));
    }
    // w, a positive integer, is taken (one node: nothing to wait for).
    assert.equal((await post({ index: fields, ddoc: 'w', w: 3 })).body.result, 'created');
    const listed = (await request(`${url}/_index`)).body.indexes.map((i: { ddoc: string | null }) => i.ddoc);
    assert.deepEqual(listed, [null, '_design/w']);
    assert.equal((await request(`${url}/_design/js`)).body.views.v.map, 'function (doc) { emit(doc.n); }');
  });

  test('a text index is the 503 of a CouchDB without a text service (mango_idx:get_idx_type, mango_error)', async () => {
    const r = await post({ index: {}, type: 'text', ddoc: 'txt' });
    assert.deepEqual([r.status, r.body], [503, { error: 'required index service unavailable', reason: 'text' }]);
    // Its body is checked first: no index at all is still the missing key.
    assert.equal((await post({ type: 'text' })).body.error, 'missing_required_key');
    assert.equal((await request(`${url}/_design/txt`)).status, 404);
  });

  test('_bulk_delete takes docids and w only', async () => {
    const bulk = (body: unknown) => request(`${url}/_index/_bulk_delete`, { method: 'POST', body });
    assert.deepEqual((await bulk({ docids: [], bogus: 1 })).body, { error: 'invalid_key', reason: 'Invalid key bogus for this request.' });
    assert.equal((await bulk({ docids: [], w: 0 })).body.error, 'invalid_pos_integer');
    assert.deepEqual((await bulk({ docids: ['nope'], w: 2 })).body, { success: [], fail: [{ id: '_design/nope', error: 'not_found' }] });
  });

  test('DELETE of an index not there is not_found "missing", however it is missing', async () => {
    await post({ index: { fields: ['n'] }, ddoc: 'gone', name: 'n' });
    assert.equal((await request(`${url}/_index/gone/json/n`, { method: 'DELETE' })).status, 200);
    for (const path of ['gone/json/n', '_design/gone/json/n', 'never/json/n', 'w/json/other', 'w/text/n', 'js/json/v']) {
      const r = await request(`${url}/_index/${path}`, { method: 'DELETE' });
      assert.equal(r.status, 404, path);
      assert.deepEqual(r.body, { error: 'not_found', reason: 'missing' }, path);
    }
  });
});
