// The answers of `_changes` for a filter it cannot find, word for word CouchDB's: CouchDB looks the
// filter up through the design document's JSON (couch_util:get_nested_json_value), so its 404
// names the first key missing on the way, and a `_view` filter without `view`, or a builtin it does
// not have, is a 400 with its own reason.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_changes filter lookup errors', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.node.createDb('fe');
    const db = await server.node.db('fe');
    await db.put({ _id: '_design/onlyviews', views: { v: { map: 'function(doc) { emit(doc._id, null); }' } } });
    await db.put({ _id: '_design/onlyfilters', filters: { f: 'function(doc) { return true; }' } });
    await db.put({ _id: 'a' });
  });
  after(() => server.close());

  const changes = async (query: string) => {
    const res = await request(`${server.url}/fe/_changes?${query}`);
    return { status: res.status, body: res.body as { error?: string; reason?: string } };
  };

  test('a view missing from a design document names the view, one without views says so', async () => {
    assert.deepEqual(await changes('filter=_view&view=onlyviews/nope'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: nope' },
    });
    assert.deepEqual(await changes('filter=_view&view=onlyfilters/v'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: views' },
    });
  });

  test('a filter function in a design document without filters names the missing filters', async () => {
    assert.deepEqual(await changes('filter=onlyviews/f'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: filters' },
    });
    assert.deepEqual(await changes('filter=onlyfilters/nope'), {
      status: 404, body: { error: 'not_found', reason: 'missing json key: nope' },
    });
  });

  test('`_view` without `view`, and an unknown builtin filter, are 400s with CouchDB\'s reasons', async () => {
    assert.deepEqual(await changes('filter=_view'), {
      status: 400, body: { error: 'bad_request', reason: '`view` filter parameter is not provided.' },
    });
    assert.deepEqual(await changes('filter=_nope'), {
      status: 400, body: { error: 'bad_request', reason: 'unknown builtin filter name' },
    });
  });

  test('the filters that exist still answer', async () => {
    const byView = await request(`${server.url}/fe/_changes?filter=_view&view=onlyviews/v`);
    assert.equal(byView.status, 200);
    const byFilter = await request(`${server.url}/fe/_changes?filter=onlyfilters/f`);
    assert.equal(byFilter.status, 200);
    assert.ok((byFilter.body as { results: unknown[] }).results.length >= 1);
  });
});
