// `partitioned` on POST /{db}/_index, as CouchDB 3 takes it on a database that is not partitioned
// (mango_idx:set_ddoc_partitioned, couch_mrview:validate): false is written into a new design
// document, true is refused, and an existing design document must already agree.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_index and `partitioned`, as CouchDB 3 takes it', () => {
  let server: TestServer;
  let url: string;
  const post = (body: unknown) => request(`${url}/_index`, { method: 'POST', body });

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    url = `${server.url}/idx-part`;
    assert.equal((await request(url, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  test('false goes into the new design document; asked again alike, the index exists', async () => {
    // What nano's documentation sends.
    const body = { index: { fields: ['town', 'surname'] }, type: 'json', name: 'townsurnameindex', ddoc: 'town', partitioned: false };
    assert.deepEqual((await post(body)).body, { result: 'created', id: '_design/town', name: 'townsurnameindex' });
    assert.deepEqual((await request(`${url}/_design/town`)).body.options, { partitioned: false });
    assert.deepEqual((await post(body)).body, { result: 'exists', id: '_design/town', name: 'townsurnameindex' });
    // The same design document without `partitioned` disagrees with it.
    const { partitioned: _, ...without } = body;
    const res = await post({ ...without, name: 'other' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_partitioned_option', reason: 'Requested partitioned option does not match existing value on design document _design/town' });
  });

  test('true is refused on a database that is not partitioned, through _index and by PUT alike; nothing is written', async () => {
    const reason = 'partitioned option cannot be true in a non-partitioned database.';
    const viaIndex = await post({ index: { fields: ['a'] }, ddoc: 'p', partitioned: true });
    assert.equal(viaIndex.status, 400);
    assert.deepEqual(viaIndex.body, { error: 'invalid_design_doc', reason });
    assert.equal((await request(`${url}/_design/p`)).status, 404);
    const viaPut = await request(`${url}/_design/q`, { method: 'PUT', body: { options: { partitioned: true }, views: {} } });
    assert.deepEqual([viaPut.status, viaPut.body], [400, { error: 'invalid_design_doc', reason }]);
  });

  test('a `partitioned` that is not a boolean is a bad request', async () => {
    const res = await post({ index: { fields: ['a'] }, partitioned: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'bad_request');
  });
});
