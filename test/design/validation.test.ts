// validate_doc_update on every write path (library, HTTP, replication), design documents needing
// an admin and compiling, and the security object handed to validate functions.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, localPouch } from '../http/pouchdb.ts';
import { request, startTestServer, type TestServer } from '../http/server.ts';
import { replicate } from '../../src/replication/index.ts';
import { LocalPeer } from '../../src/replication/index.ts';

const VDU = `function (newDoc, oldDoc, userCtx, secObj) {
  if (newDoc._deleted) { if (oldDoc && oldDoc.locked) throw({forbidden: 'locked docs stay'}); return; }
  if (typeof newDoc.title !== 'string') throw({forbidden: 'title must be a string'});
  if (newDoc.owner && newDoc.owner !== userCtx.name && userCtx.roles.indexOf('_admin') === -1) throw({unauthorized: 'not yours'});
  if (oldDoc && oldDoc.locked) throw({forbidden: 'doc is locked'});
  if (newDoc.needsMember && (!secObj.members || !secObj.members.names || secObj.members.names.indexOf('ann') === -1)) throw({forbidden: 'ann must be a member'});
  if (newDoc.wantDb && userCtx.db !== newDoc.wantDb) throw({forbidden: 'userCtx.db is ' + userCtx.db});
}`;

describe('validate_doc_update', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    await server.node.createDb('v');
    const db = await server.node.db('v');
    await db.put({ _id: '_design/rules', validate_doc_update: VDU });
  });
  after(() => server.close());

  test('library writes: refused with forbidden, accepted ones stored, per document in a bulk', async () => {
    const db = await server.node.db('v');
    await assert.rejects(db.put({ _id: 'a', title: 3 }), { code: 'forbidden', reason: 'title must be a string' });
    const ok = await db.put({ _id: 'a', title: 'hello' });
    const res = await db.bulkDocs([{ _id: 'b', title: 'x' }, { _id: 'c' }, { _id: 'd', title: 'y' }]);
    assert.equal((res[0] as { ok?: boolean }).ok, true);
    assert.deepEqual(res[1], { id: 'c', error: 'forbidden', reason: 'title must be a string' });
    assert.equal((res[2] as { ok?: boolean }).ok, true);
    await assert.rejects(db.get('c'), { code: 'not_found' });
    // oldDoc is the stored winner.
    const locked = await db.put({ _id: 'a', _rev: ok.rev, title: 'hello', locked: true });
    await assert.rejects(db.put({ _id: 'a', _rev: locked.rev, title: 'changed' }), { code: 'forbidden', reason: 'doc is locked' });
    await assert.rejects(db.remove('a', locked.rev), { code: 'forbidden', reason: 'locked docs stay' });
    // userCtx reaches the function.
    await assert.rejects(db.put({ _id: 'o', title: 't', owner: 'bob' }, { userCtx: { name: 'eve', roles: [] } }), { code: 'unauthorized' });
    await db.put({ _id: 'o', title: 't', owner: 'bob' }, { userCtx: { name: 'bob', roles: [] } });
    // userCtx names the database, as CouchDB's does.
    await db.put({ _id: 'named', title: 't', wantDb: 'v' });
  });

  test('a document written without an id has its new one before validation: the function sees it, a refusal names it', async () => {
    await server.node.createDb('vid');
    const db = await server.node.db('vid');
    await db.put({ _id: '_design/ids', validate_doc_update: 'function (n) { if (!n._id) throw ({ forbidden: "no _id seen" }); if (n.refuse) throw ({ forbidden: "refused " + n._id }); }' });
    const given = { title: 'no id' };
    const res = (await db.bulkDocs([given, { refuse: true }, { _id: 'named', title: 'x' }])) as Array<{ id: string; ok?: boolean; error?: string; reason?: string }>;
    assert.equal(res[0]!.ok, true, JSON.stringify(res[0]));
    assert.match(res[0]!.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(given, { title: 'no id' }, "the caller's object is left as it was");
    assert.equal(res[1]!.error, 'forbidden');
    assert.match(res[1]!.id, /^[0-9a-f]{32}$/, 'the refusal names the id the document was given');
    assert.equal(res[1]!.reason, `refused ${res[1]!.id}`);
    assert.notEqual(res[0]!.id, res[1]!.id);
    assert.equal(res[2]!.ok, true);
    assert.equal((await db.get(res[0]!.id)).title, 'no id');
    // Over HTTP: POST /{db} and _bulk_docs.
    const posted = await request(`${server.url}/vid`, { method: 'POST', body: { title: 'posted' } });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const bulk = await request(`${server.url}/vid/_bulk_docs`, { method: 'POST', body: { docs: [{ refuse: true }] } });
    assert.equal(bulk.status, 201);
    assert.match(bulk.body[0].id, /^[0-9a-f]{32}$/);
    assert.equal(bulk.body[0].reason, `refused ${bulk.body[0].id}`);
  });

  test('the security object reaches the function', async () => {
    const db = await server.node.db('v');
    await assert.rejects(db.put({ _id: 'm', title: 't', needsMember: true }), { code: 'forbidden' });
    const put = await request(`${server.url}/v/_security`, { method: 'PUT', body: { members: { names: ['ann'], roles: [] } } });
    assert.equal(put.status, 200);
    assert.deepEqual((await request(`${server.url}/v/_security`)).body, { members: { names: ['ann'], roles: [] } });
    await db.put({ _id: 'm', title: 't', needsMember: true });
  });

  test('HTTP: PUT, POST, _bulk_docs and PouchDB see 403 forbidden', async () => {
    const put = await request(`${server.url}/v/h1`, { method: 'PUT', body: { nope: 1 } });
    assert.equal(put.status, 403);
    assert.deepEqual(put.body, { error: 'forbidden', reason: 'title must be a string' });
    const post = await request(`${server.url}/v`, { method: 'POST', body: { nope: 1 } });
    assert.equal(post.status, 403);
    const bulk = await request(`${server.url}/v/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'h2', title: 'ok' }, { _id: 'h3' }] } });
    assert.equal(bulk.status, 201);
    assert.equal(bulk.body[0].ok, true);
    assert.deepEqual(bulk.body[1], { id: 'h3', error: 'forbidden', reason: 'title must be a string' });
    // A replicated write that is refused names the revision, as CouchDB answers.
    const replicated = await request(`${server.url}/v/_bulk_docs`, { method: 'POST', body: { new_edits: false, docs: [{ _id: 'x1', _rev: '1-abc', foo: 1 }] } });
    assert.deepEqual(replicated.body, [{ id: 'x1', rev: '1-abc', error: 'forbidden', reason: 'title must be a string' }]);
    const pouch = new PouchDB(`${server.url}/v`);
    try {
      await assert.rejects(pouch.put({ _id: 'p1', title: 1 }), (err: { status: number; name: string }) => err.status === 403 && err.name === 'forbidden');
      const r = await pouch.put({ _id: 'p1', title: 'fine' });
      assert.equal(r.ok, true);
    } finally {
      await pouch.close();
    }
  });

  test('replicated writes are validated too: refused docs count as write failures', async () => {
    const { Local, cleanup } = await localPouch();
    const src = new Local('src');
    try {
      await src.bulkDocs([{ _id: 'r1', title: 'good' }, { _id: 'r2', title: 7 }, { _id: 'r3', title: 'good' }]);
      const result = await src.replicate.to(`${server.url}/v`);
      assert.equal(result.docs_written, 2);
      assert.equal(result.doc_write_failures, 1);
      const db = await server.node.db('v');
      await db.get('r1');
      await assert.rejects(db.get('r2'), { code: 'not_found' });
      // Refuge's own replicator, local to local, goes through the same check.
      await server.node.createDb('v-src');
      const source = await server.node.db('v-src');
      await source.bulkDocs([{ _id: 'l1', title: 'good' }, { _id: 'l2' }]);
      const report = await replicate(new LocalPeer(source), new LocalPeer(db)).done;
      assert.equal(report.docsWritten, 1);
      assert.equal(report.docWriteFailures, 1);
    } finally {
      await src.close();
      await cleanup();
    }
  });

  test('design documents need an admin and must compile', async () => {
    const db = await server.node.db('v');
    await assert.rejects(db.put({ _id: '_design/x', views: { v: { map: 'function(doc) { emit(' } } }), { code: 'compilation_error' });
    await assert.rejects(db.put({ _id: '_design/x', views: { v: { map: 42 } } }), { code: 'invalid_design_doc' });
    await assert.rejects(db.put({ _id: '_design/x', views: {} }, { userCtx: { name: 'bob', roles: [] } }), { code: 'unauthorized' });
    const bad = await request(`${server.url}/v/_design/y`, { method: 'PUT', body: { filters: { f: 'not a function(' } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'compilation_error');
    // The validate function in place still applies after the refused design writes.
    await assert.rejects(db.put({ _id: 'z' }), { code: 'forbidden' });
  });

  test('a design document in a language Refuge cannot run is stored, as CouchDB stores it; using it is the error', async () => {
    await server.node.createDb('erl');
    const db = await server.node.db('erl');
    const erlang = { _id: '_design/erlang', language: 'erlang', filters: { f: 'fun({Doc}, Req) -> true end.' }, views: { v: { map: 'fun({Doc}) -> Emit(1, null) end.' } } };
    const put = await request(`${server.url}/erl/_design/erlang`, { method: 'PUT', body: erlang });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    // Replicated in as it is too: a database holding one copies whole.
    const replicated = { ...erlang, _id: '_design/erlang2', _rev: '1-' + 'a'.repeat(32) };
    assert.ok('ok' in (await db.bulkDocs([replicated], { newEdits: false }))[0]!);
    assert.equal((await db.get('_design/erlang2')).language, 'erlang');
    const view = await request(`${server.url}/erl/_design/erlang/_view/v`);
    assert.ok(view.status >= 400 && view.status < 600, String(view.status));
    assert.equal(typeof view.body.error, 'string');
    const changes = await request(`${server.url}/erl/_changes?filter=erlang/f`);
    assert.ok(changes.status >= 400, String(changes.status));
    // Ordinary writes go on.
    assert.match((await db.put({ _id: 'plain' })).rev, /^1-/);
  });

  test('a new or changed validate function applies at once; removing it lifts it', async () => {
    await server.node.createDb('v2');
    const db = await server.node.db('v2');
    await db.put({ _id: 'free' });
    // Known now to have no validate function: plain writes skip the check, design documents still
    // need an admin, in a bulk too.
    await db.put({ _id: 'free2' });
    const bob = { userCtx: { name: 'bob', roles: [] } };
    await assert.rejects(db.put({ _id: '_design/nope', views: {} }, bob), { code: 'unauthorized' });
    const mixed = await db.bulkDocs([{ _id: 'free3' }, { _id: '_design/nope' }], bob);
    assert.equal((mixed[0] as { ok?: boolean }).ok, true);
    assert.equal((mixed[1] as { error?: string }).error, 'unauthorized');
    const d = await db.put({ _id: '_design/only-x', validate_doc_update: "function(n){ if (!n.x) throw({forbidden:'x please'}) }" });
    await assert.rejects(db.put({ _id: 'y1' }), { code: 'forbidden', reason: 'x please' });
    const d2 = await db.put({ _id: '_design/only-x', _rev: d.rev, validate_doc_update: "function(n){ if (!n.y) throw({forbidden:'y please'}) }" });
    await assert.rejects(db.put({ _id: 'y1', x: 1 }), { code: 'forbidden', reason: 'y please' });
    await db.remove('_design/only-x', d2.rev);
    await db.put({ _id: 'y1' });
  });

  test('a validate function that loops or throws junk fails that write only', async () => {
    await server.node.createDb('v3');
    const db = await server.node.db('v3');
    await db.put({ _id: '_design/bad', validate_doc_update: "function(n){ if (n.loop) while(true){}; if (n.junk) throw new Error('junk'); }" });
    await assert.rejects(db.put({ _id: 'j', junk: true }), (err: { code: string }) => err.code === 'sandbox_error');
    await db.put({ _id: 'fine' });
    const res = await request(`${server.url}/v3/ok2`, { method: 'PUT', body: { a: 1 } });
    assert.equal(res.status, 201);
  });
});
