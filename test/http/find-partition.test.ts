// A partition on `_find` and `_explain` of a database that is not partitioned (none is here),
// answered as CouchDB 3 answers it: a `partition` in the query string goes into a body that names
// none (mango_httpd's maybe_set_partition), the name is checked as couch_partition checks it
// (illegal_partition), `_find` refuses it when it runs (fabric_view:get_shards) and `_explain`
// shows it, planned over _all_docs as mango_idx plans a partition's query without partitioned indexes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('_find and _explain with a partition on a database that is not partitioned', () => {
  let server: TestServer;
  let db: string;
  const post = async (path: string, body: Record<string, unknown>) => {
    const r = await request(`${db}/${path}`, { method: 'POST', body });
    return [r.status, r.body];
  };
  const notPartitioned = [400, { error: 'bad_request', reason: 'partition specified on non-partitioned db' }];
  const illegal = (reason: string) => [400, { error: 'illegal_partition', reason }];

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/plain`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${db}/a`, { method: 'PUT', body: { n: 1 } })).status, 201);
    assert.equal((await request(`${db}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'byn' } })).status, 200);
  });
  after(() => server.close());

  test('a partition in the query string is refused as one in the body is', async () => {
    assert.deepEqual(await post('_find?partition=p', { selector: {} }), notPartitioned);
    assert.deepEqual(await post('_find', { selector: {}, partition: 'p' }), notPartitioned);
    // An empty one names no partition, in the query string as in the body.
    for (const [path, body] of [['_find?partition=', {}], ['_find', { partition: '' }]] as const) {
      const [status, answer] = await post(path, { selector: {}, ...body });
      assert.deepEqual([status, (answer as { docs: unknown[] }).docs.length], [200, 1], path);
    }
  });

  test('the name is checked as couch_partition checks it, in mango_opts order', async () => {
    assert.deepEqual(await post('_find', { selector: {}, partition: 5 }), illegal('Partition must be a string'));
    assert.deepEqual(await post('_find', { selector: {}, partition: '_p' }), illegal('Partition must not start with an underscore'));
    assert.deepEqual(await post('_find?partition=_p', { selector: {} }), illegal('Partition must not start with an underscore'));
    assert.deepEqual(await post('_explain', { selector: {}, partition: 'a:b' }), illegal('Partition must not contain a colon'));
    // After fields, before r and the keys mango_opts does not know.
    assert.equal(((await post('_find', { selector: {}, partition: 5, fields: 'x' }))[1] as { error: string }).error, 'invalid_fields');
    assert.equal(((await post('_find', { selector: {}, partition: 5, r: 0 }))[1] as { error: string }).error, 'illegal_partition');
    assert.equal(((await post('_find', { selector: {}, partition: 5, bogus: 1 }))[1] as { error: string }).error, 'illegal_partition');
  });

  test('_explain shows the partition, planned without json indexes', async () => {
    for (const [path, body] of [['_explain?partition=p', {}], ['_explain', { partition: 'p' }]] as const) {
      const [status, answer] = await post(path, { selector: { n: 1 }, ...body });
      const plan = answer as { index: { ddoc: unknown }; opts: { partition: unknown }; mrargs: { partition: unknown } };
      assert.equal(status, 200, path);
      assert.deepEqual([plan.opts.partition, plan.mrargs.partition], ['p', 'p'], path);
      assert.notEqual(plan.index.ddoc, '_design/byn', path);
    }
    const [, plain] = await post('_explain', { selector: { n: 1 } });
    const plan = plain as { index: { ddoc: unknown }; opts: { partition: unknown }; mrargs: { partition: unknown } };
    assert.deepEqual([plan.index.ddoc, plan.opts.partition, plan.mrargs.partition], ['_design/byn', '', null]);
  });
});
