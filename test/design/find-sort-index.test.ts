// When `_find` has no index for its sort. CouchDB answers no_usable_index ("No index exists for this
// sort...") unless a json index on the sort fields, or _all_docs for a bounded `_id` sort, serves
// it. Refuge's path index gives every field's order, and without it (autoIndex off) the matches are
// sorted in memory: such queries are answered. Only `allow_fallback: false` gets CouchDB's refusal.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_find sorts without an index for them', () => {
  let server: TestServer;
  let noPaths: string;
  let paths: string;
  const find = (db: string, body: Record<string, unknown>) => request(`${db}/_find`, { method: 'POST', body });
  const ids = (r: { body: { docs: Array<{ _id: string }> } }) => r.body.docs.map((d) => d._id);
  const docs = [{ _id: 'a', n: 3 }, { _id: 'b', n: 1 }, { _id: 'c', n: 2 }];

  before(async () => {
    server = await startTestServer();
    await server.node.createDb('nopaths', { autoIndex: false });
    noPaths = `${server.url}/nopaths`;
    paths = `${server.url}/paths`;
    assert.equal((await request(paths, { method: 'PUT' })).status, 201);
    for (const db of [noPaths, paths]) assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
  });
  after(() => server.close());

  test('answered either way: by the path index, or sorted in memory when it is off', async () => {
    for (const db of [paths, noPaths]) {
      const r = await find(db, { selector: { n: { $gt: 0 } }, sort: [{ n: 'desc' }] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(ids(r), ['a', 'c', 'b']);
    }
  });

  test('allow_fallback: false without the path index: CouchDB\'s no_usable_index for the sort', async () => {
    const refused = await find(noPaths, { selector: { n: { $gt: 0 } }, sort: ['n'], allow_fallback: false });
    assert.deepEqual([refused.status, refused.body], [400, { error: 'no_usable_index', reason: 'No index exists for this sort, try indexing by the sort fields.' }]);
    const explained = await request(`${noPaths}/_explain`, { method: 'POST', body: { selector: { n: { $gt: 0 } }, sort: ['n'], allow_fallback: false } });
    assert.deepEqual([explained.status, explained.body.reason], [400, 'No index exists for this sort, try indexing by the sort fields.']);
    // A bounded _id sort is _all_docs' own: refused as the full scan it is, not for the sort.
    const byId = await find(noPaths, { selector: { _id: { $gt: null } }, sort: ['_id'], allow_fallback: false });
    assert.equal(byId.status, 400);
    assert.equal(byId.body.error, 'no_usable_index');
    assert.notEqual(byId.body.reason, 'No index exists for this sort, try indexing by the sort fields.');
    // The path index serves the sort itself.
    const served = await find(paths, { selector: { n: { $gt: 0 } }, sort: ['n'], allow_fallback: false });
    assert.deepEqual([served.status, ids(served)], [200, ['b', 'c', 'a']]);
    // And so does a json index on the sort field, once there is one.
    assert.equal((await request(`${noPaths}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'byn', name: 'n' } })).status, 200);
    const viaJson = await find(noPaths, { selector: { n: { $gt: 0 } }, sort: ['n'], allow_fallback: false });
    assert.deepEqual([viaJson.status, ids(viaJson)], [200, ['b', 'c', 'a']]);
  });
});
