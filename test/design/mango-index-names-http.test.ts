// POST /{db}/_index without a name or ddoc names the index and its design document as CouchDB 3
// does (mango_idx:gen_name), so a client re-creating an index finds it, on either server.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe("_index names, as CouchDB 3 generates them", () => {
  let server: TestServer;
  let url: string;
  const post = async (body: unknown) => {
    const res = await request(`${url}/_index`, { method: 'POST', body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { result: string; id: string; name: string };
  };

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    url = `${server.url}/idx-names`;
    assert.equal((await request(url, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  test('an unnamed index: one SHA-1 names it and its design document; asked again, it exists', async () => {
    // The SHA-1 of term_to_binary({Def, Opts}) with CouchDB 3's default options.
    const hash = 'a138cce43c361000dcca40cb1fbb8c6776e04ba0';
    assert.deepEqual(await post({ index: { fields: ['foo'] } }), { result: 'created', id: `_design/${hash}`, name: hash });
    assert.deepEqual(await post({ index: { fields: ['foo'] } }), { result: 'exists', id: `_design/${hash}`, name: hash });
    // The design document as CouchDB writes it (mango_idx_view:make_view).
    const ddoc = (await request(`${url}/_design/${hash}`)).body;
    assert.deepEqual(ddoc.views, { [hash]: { map: { fields: { foo: 'asc' }, partial_filter_selector: {} }, reduce: '_count', options: { def: { fields: ['foo'] } } } });
    assert.equal(ddoc.language, 'query');
  });

  test('a named index in a generated design document: the name is part of what the design document is named from', async () => {
    const hash = '74644dcd981a77aa2a982e4eb0956fbad86c5a3f';
    const body = { index: { fields: ['foo'] }, name: 'foo-index', type: 'json' };
    assert.deepEqual(await post(body), { result: 'created', id: `_design/${hash}`, name: 'foo-index' });
    assert.deepEqual(await post(body), { result: 'exists', id: `_design/${hash}`, name: 'foo-index' });
    // Another name, another design document (not a second view beside the first).
    const other = await post({ ...body, name: 'bar-index' });
    assert.notEqual(other.id, `_design/${hash}`);
    assert.equal(other.result, 'created');
  });

  test('the definition as written names it: another spelling of the same fields is another index', async () => {
    const plain = await post({ index: { fields: ['spelled'] } });
    const spelled = await post({ index: { fields: [{ spelled: 'asc' }] } });
    assert.equal(spelled.result, 'created');
    assert.notEqual(spelled.id, plain.id);
    // A named design document gets a generated index name from the same hash.
    const inDdoc = await post({ index: { fields: ['spelled'] }, ddoc: 'mine' });
    assert.equal(inDdoc.id, '_design/mine');
    assert.match(inDdoc.name, /^[0-9a-f]{40}$/);
    assert.notEqual(inDdoc.name, plain.name);
  });
});
