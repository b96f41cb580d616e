// The views API answering as CouchDB 3 does on the wire, for requests real clients make: where
// several queries go, which parameters are refused and how, what include_docs loads.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('views on the wire as CouchDB 3 answers', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer();
    u = `${server.url}/wire`;
    await request(u, { method: 'PUT' });
    await request(`${u}/_bulk_docs`, {
      method: 'POST',
      body: { docs: [{ _id: 'a', type: 'fruit' }, { _id: 'b', type: 'veg' }] },
    });
    await request(`${u}/_design/d`, { method: 'PUT', body: { views: { byType: { map: 'function (doc) { if (doc.type) emit(doc.type, null); }' } } } });
  });
  after(() => server.close());

  test('several queries go to .../queries only: the view refuses `queries`, GET on /queries is a 405', async () => {
    const atView = await request(`${u}/_design/d/_view/byType`, { method: 'POST', body: { queries: [{ key: 'veg' }] } });
    assert.deepEqual([atView.status, atView.body], [400, { error: 'bad_request', reason: 'The `queries` parameter is no longer supported at this endpoint' }]);
    const notList = await request(`${u}/_design/d/_view/byType`, { method: 'POST', body: { queries: 5 } });
    assert.deepEqual([notList.status, notList.body.reason], [400, '`queries` member must be an array.']);
    const none = await request(`${u}/_design/d/_view/byType/queries`, { method: 'POST', body: { keys: ['veg'] } });
    assert.deepEqual([none.status, none.body], [400, { error: 'bad_request', reason: 'POST body must include `queries` parameter.' }]);
    const get = await request(`${u}/_design/d/_view/byType/queries`);
    assert.deepEqual([get.status, get.body], [405, { error: 'method_not_allowed', reason: 'Only POST allowed' }]);
    const many = await request(`${u}/_design/d/_view/byType/queries`, { method: 'POST', body: { queries: [{ key: 'veg' }, { limit: 1 }] } });
    assert.deepEqual(many.body.results.map((r: { rows: Array<{ id: string }> }) => r.rows.map((row) => row.id)), [['b'], ['a']]);
  });

  test('a key that is not JSON is the bad_request CouchDB answers for any bad JSON', async () => {
    for (const q of ['key=veg', 'keys=[veg]', 'startkey=%7B', 'end_key=nul']) {
      const res = await request(`${u}/_design/d/_view/byType?${q}`);
      assert.deepEqual([res.status, res.body], [400, { error: 'bad_request', reason: 'invalid UTF-8 JSON' }], q);
    }
  });

  test('stable, sorted and att_encoding_info take only the values CouchDB takes', async () => {
    const bad = await request(`${u}/_design/d/_view/byType?stable=yes`);
    assert.deepEqual([bad.status, bad.body], [400, { error: 'query_parse_error', reason: 'Invalid value for `stable`.' }]);
    const sorted = await request(`${u}/_design/d/_view/byType?sorted=maybe`);
    assert.deepEqual([sorted.status, sorted.body], [400, { error: 'query_parse_error', reason: 'Invalid boolean parameter: "maybe"' }]);
    assert.equal((await request(`${u}/_design/d/_view/byType?att_encoding_info=x`)).status, 400);
    const fine = await request(`${u}/_design/d/_view/byType?stable=true&sorted=false&att_encoding_info=true`);
    assert.deepEqual([fine.status, fine.body.rows.length], [200, 2]);
  });

  test('include_docs: an emitted {_id: null} links to no document, as CouchDB gives it', async () => {
    await request(`${u}/linked`, { method: 'PUT', body: { to: null } });
    await request(`${u}/_design/links`, { method: 'PUT', body: { views: { v: { map: 'function (doc) { if (doc.to !== undefined) emit(doc._id, { _id: doc.to }); }' } } } });
    const res = await request(`${u}/_design/links/_view/v?include_docs=true`);
    assert.deepEqual(res.body.rows, [{ id: 'linked', key: 'linked', value: { _id: null }, doc: null }]);
  });

  test('an empty keys beside key or a range asks for nothing and is no error', async () => {
    const res = await request(`${u}/_design/d/_view/byType?keys=[]&key=%22veg%22`);
    assert.deepEqual([res.status, res.body.rows], [200, []]);
    const post = await request(`${u}/_design/d/_view/byType?startkey=%22a%22`, { method: 'POST', body: { keys: [] } });
    assert.deepEqual([post.status, post.body.rows], [200, []]);
  });

  test('keys on a reduce view without group=true: CouchDB\'s reason, word for word', async () => {
    await request(`${u}/_design/counted`, { method: 'PUT', body: { views: { v: { map: 'function (doc) { if (doc.type) emit(doc.type, 1); }', reduce: '_count' } } } });
    const res = await request(`${u}/_design/counted/_view/v?keys=%5B%22veg%22%5D`);
    assert.deepEqual([res.status, res.body], [400, { error: 'query_parse_error', reason: 'Multi-key fetchs for reduce views must use `group=true`' }]);
  });

  test('_design_docs and _all_docs refuse bad parameters with the views\' errors, as CouchDB parses them alike', async () => {
    const cases: Array<[string, string, string]> = [
      ['_design_docs?limit=-1', 'query_parse_error', 'Invalid value for positive integer: "-1"'],
      ['_design_docs?descending=yes', 'query_parse_error', 'Invalid boolean parameter: "yes"'],
      ['_all_docs?skip=x', 'query_parse_error', 'Invalid value for integer: "x"'],
      ['_all_docs?key=nope', 'bad_request', 'invalid UTF-8 JSON'],
    ];
    for (const [path, error, reason] of cases) {
      const res = await request(`${u}/${path}`);
      assert.deepEqual([res.status, res.body], [400, { error, reason }], path);
    }
    const posted = await request(`${u}/_design_docs`, { method: 'POST', body: { include_docs: 'sure' } });
    assert.deepEqual([posted.status, posted.body.reason], [400, 'Invalid boolean parameter: "sure"']);
    assert.equal((await request(`${u}/_design_docs?include_docs=True`)).status, 200);
  });
});
