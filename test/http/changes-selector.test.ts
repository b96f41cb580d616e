// `_changes?filter=_selector` as CouchDB 3 answers it (couch_changes.erl, fabric_rpc.erl): Mango
// errors in the selector or `fields` are plain 400 bad_request, and `fields` shapes included documents.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('_changes?filter=_selector', () => {
  let server: TestServer;
  let base: string;

  before(async () => {
    server = await startTestServer();
    base = `${server.url}/sel`;
    assert.equal((await request(base, { method: 'PUT' })).status, 201);
    const docs = [
      { _id: 'a', type: 'x', n: 1, deep: { k: 1, l: 2 } },
      { _id: 'b', type: 'y', n: 2 },
      { _id: 'c', type: 'x', n: 3 },
    ];
    assert.equal((await request(`${base}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
  });
  after(() => server.close());

  const post = (query: string, body: unknown) => request(`${base}/_changes?filter=_selector${query}`, { method: 'POST', body });

  test("a bad selector is a 400 bad_request with Mango's reason, on every feed", async () => {
    for (const feed of ['normal', 'longpoll', 'continuous', 'eventsource']) {
      const bad = await post(`&feed=${feed}`, { selector: { n: { $bogus: 1 } } });
      assert.deepEqual([bad.status, bad.body], [400, { error: 'bad_request', reason: 'Invalid operator: $bogus' }], feed);
    }
    const badArg = await post('', { selector: { n: { $in: 3 } } });
    assert.deepEqual([badArg.status, badArg.body.error], [400, 'bad_request']);
    assert.match(badArg.body.reason, /^Bad argument for operator \$in/);
  });

  test('fields keep only the named fields of included documents; the selector still sees them whole', async () => {
    const res = await post('&include_docs=true', { selector: { type: 'x' }, fields: ['n', 'deep.k'] });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.results.map((r: any) => [r.id, r.doc]),
      [
        ['a', { n: 1, deep: { k: 1 } }],
        ['c', { n: 3 }],
      ],
    );
    // Live feeds shape them the same way.
    const live = await post('&include_docs=true&feed=continuous&timeout=10', { selector: { type: 'x' }, fields: ['_id', 'n'] });
    const rows = live.text.split('\n').filter((l) => l.startsWith('{"seq"')).map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.doc), [{ _id: 'a', n: 1 }, { _id: 'c', n: 3 }]);
    // Without include_docs there is no document to shape; an empty list keeps all of it.
    assert.equal((await post('', { selector: { type: 'x' }, fields: ['n'] })).body.results[0].doc, undefined);
    const whole = await post('&include_docs=true', { selector: { type: 'y' }, fields: [] });
    assert.equal(whole.body.results[0].doc.type, 'y');
    assert.equal(whole.body.results[0].doc._id, 'b');
  });

  test('bad fields are a 400 bad_request', async () => {
    const notList = await post('', { selector: { type: 'x' }, fields: 'n' });
    assert.deepEqual([notList.status, notList.body], [400, { error: 'bad_request', reason: 'Selector error: fields must be JSON array' }]);
    const nul = await post('', { selector: { type: 'x' }, fields: null });
    assert.deepEqual([nul.status, nul.body.error], [400, 'bad_request']);
    const notString = await post('&feed=continuous', { selector: { type: 'x' }, fields: [1] });
    assert.deepEqual([notString.status, notString.body], [400, { error: 'bad_request', reason: 'Invalid JSON for field spec: 1' }]);
  });

  test('fields go with the _selector filter only, as in CouchDB', async () => {
    const res = await request(`${base}/_changes?filter=_doc_ids&include_docs=true`, { method: 'POST', body: { doc_ids: ['b'], fields: ['n'] } });
    assert.equal(res.body.results[0].doc.type, 'y');
  });
});
