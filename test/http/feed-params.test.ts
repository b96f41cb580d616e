// The parameters of feeds and document requests as CouchDB reads them: a heartbeat is at most its
// changes_timeout (60 s); flags are the exact word; a feed resumes from `last-event-id` in the query;
// `_changes` reads its parameter names in any case.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { heartbeatParam, newEditsParam, trueFlag } from '../../src/http/params.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { request, startTestServer, type TestServer } from './server.ts';

test('a heartbeat comes at least every 60 s, as CouchDB caps it; bad ones are refused', () => {
  assert.equal(heartbeatParam({}), undefined);
  assert.equal(heartbeatParam({ heartbeat: 'true' }), 60_000);
  assert.equal(heartbeatParam({ heartbeat: '1500' }), 1500);
  assert.equal(heartbeatParam({ heartbeat: '65000' }), 60_000);
  assert.equal(heartbeatParam({ heartbeat: '99999999999' }), 60_000);
  for (const bad of ['0', '-5', 'abc', '1.5']) assert.throws(() => heartbeatParam({ heartbeat: bad }), (err) => isRefugeError(err, 'bad_request'), bad);
});

test('flags are the exact word, as parse_doc_query and parse_changes_query read them', () => {
  assert.equal(trueFlag({ revs: 'true' }, 'revs'), true);
  for (const v of ['True', 'TRUE', '1', 'yes', '']) assert.equal(trueFlag({ revs: v }, 'revs'), false, v);
  assert.equal(newEditsParam({}), true);
  assert.equal(newEditsParam({ new_edits: 'false' }), false);
  for (const v of ['False', '0', 'no', 'true', '']) assert.equal(newEditsParam({ new_edits: v }), true, v);
});

describe('_changes parameters on the wire', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    assert.equal((await request(`${server.url}/ev`, { method: 'PUT' })).status, 201);
    const docs = [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }];
    assert.equal((await request(`${server.url}/ev/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
  });
  after(() => server.close());

  test('is a since, as CouchDB reads it, for an EventSource that cannot set the header', async () => {
    const res = await fetch(`${server.url}/ev/_changes?feed=eventsource&last-event-id=2&timeout=10`);
    const text = await res.text();
    assert.deepEqual([...text.matchAll(/"id":"(\w+)"/g)].map((m) => m[1]), ['c'], text);
    assert.deepEqual((await request(`${server.url}/ev/_changes?last-event-id=1`)).body.results.map((r: { id: string }) => r.id), ['b', 'c']);
  });

  test('names in any case, as CouchDB lowercases them (Since= is since=); the later of two alike counts', async () => {
    const res = await request(`${server.url}/ev/_changes?Since=1&LIMIT=1&Include_Docs=true`);
    assert.deepEqual(res.body.results.map((r: { id: string; doc?: { _id: string } }) => [r.id, r.doc?._id]), [['b', 'b']]);
    const later = await request(`${server.url}/ev/_changes?Since=2&since=0`);
    assert.deepEqual(later.body.results.map((r: { id: string }) => r.id), ['a', 'b', 'c']);
  });
});
