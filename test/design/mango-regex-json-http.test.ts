// A json index serves `$regex` anchored on literal text and `$beginsWith` (CouchDB 3.4 reads the
// latter as a key range, mango_idx_view): `_explain` names the index and the clause, and `_find`
// answers exactly what the path index does.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('json indexes and string prefixes over HTTP', () => {
  let server: TestServer;
  let url: string;
  const names = ['alice', 'Alice', 'ALIBI', 'alj', 'al', 'bob', 'ālī', 'a.b', 'axb', 'ali'];
  const call = async (path: string, body: unknown) => {
    const res = await request(`${url}/${path}`, { method: 'POST', body });
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    return res.body;
  };
  const ids = async (selector: unknown) => ((await call('_find', { selector, limit: 100 })).docs as Array<{ _id: string }>).map((d) => d._id).sort();

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    url = `${server.url}/prefixes`;
    assert.equal((await request(url, { method: 'PUT' })).status, 201);
    await call('_bulk_docs', { docs: [...names.map((name, i) => ({ _id: `d${i}`, name })), { _id: 'n', name: 7 }] });
  });
  after(() => server.close());

  test('the same answers with and without the json index; explain names the clause that narrowed it', async () => {
    const selectors = [{ $regex: '^ali' }, { $regex: '^a\\.b' }, { $regex: '(?i)^ali' }, { $regex: '^(a|b)' }, { $beginsWith: 'al' }].map((c) => ({ name: c }));
    const before = await Promise.all(selectors.map(ids));
    await call('_index', { index: { fields: ['name'] }, ddoc: 'byname', name: 'name' });
    assert.deepEqual(await Promise.all(selectors.map(ids)), before);
    assert.deepEqual(before[0], ['d0', 'd9']);

    const regex = await call('_explain', { selector: { name: { $regex: '^ali' } } });
    assert.equal(regex.index.ddoc, '_design/byname');
    assert.equal(regex.reason, 'json index _design/byname/name: range on name from $regex "^ali"');
    const begins = await call('_explain', { selector: { name: { $beginsWith: 'al' } } });
    assert.equal(begins.index.ddoc, '_design/byname');
    assert.equal(begins.reason, 'json index _design/byname/name: range on name from $beginsWith');
    // Case folding gives no prefix to narrow the json index by: the path index reads every string.
    const folded = await call('_explain', { selector: { name: { $regex: '(?i)^ali' } } });
    assert.equal(folded.index.name, '_path_index');
  });
});
