// Partitions on a database that is not partitioned (none is here), answered as CouchDB 3 answers
// them: the `partition` parameter of a view or of _all_docs is a query_parse_error
// (couch_mrview_util:validate_args, validate_all_docs_args), and the /{db}/_partition/ endpoints
// are a bad_request (chttpd_db:handle_partition_req).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('partitions on a database that is not partitioned', () => {
  let server: TestServer;
  let db: string;
  const answer = async (path: string, init?: Parameters<typeof request>[1]) => {
    const r = await request(`${db}/${path}`, init);
    return [r.status, r.body];
  };
  const parseError = (reason: string) => [400, { error: 'query_parse_error', reason }];

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/plain`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${db}/a`, { method: 'PUT', body: { n: 1 } })).status, 201);
    assert.equal((await request(`${db}/_design/d`, { method: 'PUT', body: { views: { v: { map: 'function (doc) { emit(doc._id, 1); }' } } } })).status, 201);
  });
  after(() => server.close());

  test('partition= on a view: not supported in this design doc', async () => {
    const notSupported = parseError('`partition` parameter is not supported in this design doc');
    assert.deepEqual(await answer('_design/d/_view/v?partition=p'), notSupported);
    assert.deepEqual(await answer('_design/d/_view/v', { method: 'POST', body: { partition: 'p' } }), notSupported);
    const many = await answer('_design/d/_view/v/queries', { method: 'POST', body: { queries: [{}, { partition: 'p' }] } });
    assert.deepEqual(many, notSupported);
    assert.deepEqual(await answer('_design/d/_view/v?partition='), parseError('Invalid value for `partition`.'));
    // A view that does not exist is still the 404 it was; a bad value elsewhere comes first.
    assert.equal((await answer('_design/d/_view/nope?partition=p'))[0], 404);
    assert.deepEqual(await answer('_design/d/_view/v?partition=p&limit=-1'), parseError('Invalid value for positive integer: "-1"'));
  });

  test('partition= on _all_docs, _design_docs and _local_docs: not supported on this db', async () => {
    const notSupported = parseError('`partition` parameter is not supported on this db');
    for (const path of ['_all_docs', '_design_docs', '_local_docs']) {
      assert.deepEqual(await answer(`${path}?partition=p`), notSupported, path);
      assert.deepEqual(await answer(path, { method: 'POST', body: { partition: 'p' } }), notSupported, path);
    }
    assert.deepEqual(await answer('_all_docs?partition='), parseError('Invalid value for `partition`.'));
    const fine = await answer('_all_docs');
    assert.equal(fine[0], 200);
  });

  test('/{db}/_partition/...: database is not partitioned, once the database is known', async () => {
    const notPartitioned = [400, { error: 'bad_request', reason: 'database is not partitioned' }];
    assert.deepEqual(await answer('_partition/p'), notPartitioned);
    assert.deepEqual(await answer('_partition/p/_all_docs'), notPartitioned);
    assert.deepEqual(await answer('_partition/p/_design/d/_view/v'), notPartitioned);
    assert.deepEqual(await answer('_partition/p/_find', { method: 'POST', body: { selector: {} } }), notPartitioned);
    assert.deepEqual(await answer('_partition'), [400, { error: 'bad_request', reason: 'invalid_partition_req' }]);
    assert.deepEqual(await answer('_partition/p', { method: 'PUT', body: {} }), [405, { error: 'method_not_allowed', reason: 'Only GET allowed' }]);
    const missing = await request(`${server.url}/nodb/_partition/p`);
    assert.equal(missing.status, 404);
    // Nothing was written under such a name.
    assert.equal((await request(`${db}/_all_docs`)).body.total_rows, 2);
  });
});
