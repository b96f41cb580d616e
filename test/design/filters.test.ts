// Design-document filters: `_changes?filter=ddoc/name` (with query params), `_view`, `_design`,
// and filtered replication by Refuge's replicator and by PouchDB's.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, localPouch } from '../http/pouchdb.ts';
import { request, startTestServer, type TestServer } from '../http/server.ts';
import { LocalPeer, HttpPeer, replicate } from '../../src/replication/index.ts';

const DDOC = {
  _id: '_design/app',
  filters: {
    byType: 'function(doc, req) { return doc.type === (req.query.type || "note"); }',
    deleted: 'function(doc) { return !!doc._deleted; }',
    throws: 'function() { throw new Error("no"); }',
    // "Members only": what CouchDB hands a filter of the database and its security object.
    members: 'function(doc, req) { return req.userCtx.db === "f" && req.info.db_name === "f" && req.secObj.members.names.indexOf(doc.who) >= 0; }',
  },
  views: { tagged: { map: 'function(doc) { if (doc.tag) emit(doc.tag, null); }' } },
};

describe('design-document filters', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    await server.node.createDb('f');
    const db = await server.node.db('f');
    await db.put(DDOC);
    await db.bulkDocs([
      { _id: 'n1', type: 'note' },
      { _id: 'n2', type: 'note', tag: 'a' },
      { _id: 't1', type: 'task', tag: 'b' },
      { _id: 't2', type: 'task' },
    ]);
    const t2 = await db.get('t2');
    await db.remove('t2', t2._rev!);
  });
  after(() => server.close());

  const ids = (body: { results: Array<{ id: string }> }) => body.results.map((r) => r.id).sort();

  test('_changes?filter=ddoc/name with query parameters', async () => {
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=app/byType`)).body), ['n1', 'n2']);
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=app/byType&type=task`)).body), ['t1']);
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=app/deleted`)).body), ['t2']);
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=_view&view=app/tagged`)).body), ['n2', 't1']);
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=_design`)).body), ['_design/app']);
    const missing = await request(`${server.url}/f/_changes?filter=app/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await request(`${server.url}/f/_changes?filter=nope/x`)).status, 404);
    assert.equal((await request(`${server.url}/f/_changes?filter=bad`)).status, 400);
    // A filter that throws fails the request, as in CouchDB: it does not just leave documents out.
    const thrown = await request(`${server.url}/f/_changes?filter=app/throws`);
    assert.equal(thrown.status, 500);
    assert.match(thrown.body.reason, /no/);
    await request(`${server.url}/f/_security`, { method: 'PUT', body: { members: { names: ['ann'], roles: [] } } });
    await request(`${server.url}/f/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'w1', who: 'ann' }, { _id: 'w2', who: 'bob' }] } });
    assert.deepEqual(ids((await request(`${server.url}/f/_changes?filter=app/members`)).body), ['w1']);
  });

  test('library changes and live subscription with a filter', async () => {
    const db = await server.node.db('f');
    const res = await db.changes({ filter: 'app/byType', queryParams: { type: 'task' } });
    assert.deepEqual(res.results.map((r) => r.id), ['t1']);
    const ac = new AbortController();
    const since = (await db.info()).updateSeq;
    const live = db.subscribe({ since, filter: 'app/byType', queryParams: { type: 'task' }, signal: ac.signal });
    const next = live.next();
    await db.bulkDocs([{ _id: 'n9', type: 'note' }, { _id: 't9', type: 'task' }]);
    const batch = await next;
    assert.deepEqual(batch.value!.map((r) => r.id), ['t9']);
    ac.abort();
    await live.return(undefined);
  });

  test('Refuge replicator: filter with query_params, local and over HTTP', async () => {
    const source = await server.node.db('f');
    await server.node.createDb('f-local');
    const local = await replicate(new LocalPeer(source), new LocalPeer(await server.node.db('f-local')), {
      filter: 'app/byType',
      queryParams: { type: 'task' },
    }).done;
    assert.equal(local.docsWritten, 2); // t1, t9
    await server.node.createDb('f-http');
    const overHttp = await replicate(new HttpPeer(`${server.url}/f`), new HttpPeer(`${server.url}/f-http`), {
      filter: 'app/byType',
    }).done;
    const target = await server.node.db('f-http');
    const all = await target.allDocs();
    assert.deepEqual(all.rows.map((r) => r.id).sort(), ['n1', 'n2', 'n9']);
    assert.ok(overHttp.docsWritten >= 3);
    // POST /_replicate with filter and query_params.
    const res = await request(`${server.url}/_replicate`, {
      method: 'POST',
      body: { source: 'f', target: 'f-api', create_target: true, filter: 'app/byType', query_params: { type: 'task' } },
    });
    assert.equal(res.status, 200);
    const api = await (await server.node.db('f-api')).allDocs();
    assert.deepEqual(api.rows.map((r) => r.id).sort(), ['t1', 't9']);
    // CouchDB's built-in _view (documents the view emits for) and _design filters, local and over HTTP.
    for (const [source, target] of [['f', 'f-view'], [`${server.url}/f`, 'f-view-http']]) {
      const byView = await request(`${server.url}/_replicate`, {
        method: 'POST',
        body: { source, target, create_target: true, filter: '_view', query_params: { view: 'app/tagged' } },
      });
      assert.equal(byView.status, 200, JSON.stringify(byView.body));
      const tagged = (await (await server.node.db(target)).allDocs()).rows.map((r) => r.id);
      assert.ok(tagged.includes('n2') && tagged.includes('t1') && !tagged.includes('n1') && !tagged.includes('t2'), tagged.join());
    }
    const designs = await request(`${server.url}/_replicate`, { method: 'POST', body: { source: 'f', target: 'f-design', create_target: true, filter: '_design' } });
    assert.equal(designs.status, 200);
    assert.deepEqual((await (await server.node.db('f-design')).allDocs()).rows.map((r) => r.id), ['_design/app']);
    const noView = await request(`${server.url}/_replicate`, { method: 'POST', body: { source: 'f', target: 'x', create_target: true, filter: '_view' } });
    assert.equal(noView.status, 400);
  });

  test('PouchDB replicates from Refuge through a design-document filter', async () => {
    const { Local, cleanup } = await localPouch();
    const local = new Local('filtered');
    try {
      await PouchDB.replicate(`${server.url}/f`, local, { filter: 'app/byType', query_params: { type: 'task' } });
      const all = await local.allDocs();
      assert.deepEqual(all.rows.map((r: { id: string }) => r.id).sort(), ['t1', 't9']);
    } finally {
      await local.close();
      await cleanup();
    }
  });
});
