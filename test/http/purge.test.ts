// `POST /{db}/_purge` and `/{db}/_purged_infos_limit` as CouchDB 3 answers them, seen by PouchDB
// from npm as the client (it has no HTTP purge, so that one call is a plain fetch): conflicts,
// whole documents gone from every read, views and replication, refused bodies, and the admin.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { localPouch, PouchDB, type Pouch } from './pouchdb.ts';
import { request, startTestServer, type TestServer } from './server.ts';

const REV_A = '1-' + 'a'.repeat(32);
const REV_B = '1-' + 'b'.repeat(32);

describe('_purge with PouchDB as the client', () => {
  let server: TestServer;
  let db: Pouch;
  const purge = (body: unknown, headers: Record<string, string> = {}) => request(`${server.url}/purging/_purge`, { method: 'POST', body, headers });

  before(async () => {
    server = await startTestServer();
    db = new PouchDB(`${server.url}/purging`);
  });
  after(async () => {
    await db.close();
    await server.close();
  });

  test('purging the winning branch of a conflict: the other leaf wins, at a new seq', async () => {
    await db.bulkDocs(
      [
        { _id: 'c', _rev: REV_A, side: 'a' },
        { _id: 'c', _rev: REV_B, side: 'b' },
      ],
      { new_edits: false },
    );
    assert.deepEqual((await db.get('c', { conflicts: true }))._conflicts, [REV_A]);
    const before = await db.info();
    const res = await purge({ c: [REV_B] });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { purge_seq: null, purged: { c: [REV_B] } });
    const doc = await db.get('c', { conflicts: true });
    assert.deepEqual(doc, { _id: 'c', _rev: REV_A, side: 'a' });
    const info = await db.info();
    assert.equal(info.purge_seq, before.purge_seq + 1);
    assert.ok(info.update_seq > before.update_seq);
    const changes = await db.changes({ since: before.update_seq });
    assert.deepEqual(changes.results.map((r: { id: string; changes: unknown }) => [r.id, r.changes]), [['c', [{ rev: REV_A }]]]);
  });

  test('purging every leaf: gone from get, _all_docs, _changes, _find, views and replication', async () => {
    const first = await db.put({ _id: 'secret', kind: 'secret', pin: 1234 });
    const second = await db.put({ _id: 'secret', _rev: first.rev, kind: 'secret', pin: 4321 });
    await db.put({ _id: 'plain', kind: 'plain' });
    await db.put({ _id: '_design/k', views: { byKind: { map: 'function (doc) { if (doc.kind) emit(doc.kind, null); }' } } });
    const viewIds = async () => (await db.query('k/byKind')).rows.map((r: { id: string }) => r.id).sort();
    assert.deepEqual(await viewIds(), ['plain', 'secret']);
    const counts = (await db.info()).doc_count;

    // A non-leaf revision is ignored; the leaf removes the whole history.
    const res = await purge({ secret: [first.rev, second.rev], nothing: [REV_A] });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.purged, { secret: [second.rev], nothing: [] });

    await assert.rejects(db.get('secret'), (e: { status: number }) => e.status === 404);
    await assert.rejects(db.get('secret', { rev: first.rev }), (e: { status: number }) => e.status === 404);
    assert.equal((await db.info()).doc_count, counts - 1);
    assert.ok(!(await db.allDocs()).rows.some((r: { id: string }) => r.id === 'secret'));
    assert.ok(!(await db.changes()).results.some((r: { id: string }) => r.id === 'secret'));
    assert.deepEqual((await db.find({ selector: { kind: 'secret' } })).docs, []);
    assert.deepEqual(await viewIds(), ['plain']);
    assert.deepEqual(await db.revsDiff({ secret: [second.rev] }), { secret: { missing: [second.rev] } });

    // A replica made now never hears of it.
    const { Local, cleanup } = await localPouch();
    const local: Pouch = new Local('replica');
    try {
      await local.replicate.from(db);
      await assert.rejects(local.get('secret'), (e: { status: number }) => e.status === 404);
      assert.equal((await local.get('plain')).kind, 'plain');
    } finally {
      await local.close();
      await cleanup();
    }
  });

  test('malformed bodies are 400 and change nothing', async () => {
    const rev = (await db.put({ _id: 'stays', v: 1 })).rev;
    const mid = (await request(`${server.url}/purging`)).body;
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`id${i}`, [rev]]));
    for (const body of [[], 'x', 5, { stays: rev }, { stays: [rev, 'nope'] }, { stays: [3] }, many, { stays: Array.from({ length: 1001 }, (_, i) => `${i + 1}-${'a'.repeat(32)}`) }]) {
      const res = await purge(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.body.error, 'bad_request');
      assert.equal(typeof res.body.reason, 'string');
    }
    assert.equal((await purge(many)).body.reason, 'Exceeded maximum number of documents.');
    const bad = await request(`${server.url}/purging/_purge`, { method: 'POST', raw: '{"a":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const after1 = (await request(`${server.url}/purging`)).body;
    assert.deepEqual([after1.update_seq, after1.purge_seq, after1.doc_count], [mid.update_seq, mid.purge_seq, mid.doc_count]);
    assert.equal((await db.get('stays')).v, 1);
    for (const raw of ['0', '"5"', '{}', '2.5']) {
      const res = await request(`${server.url}/purging/_purged_infos_limit`, { method: 'PUT', raw, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, raw);
      assert.equal(res.body.reason, '`purged_infos_limit` must be positive integer');
    }
    assert.equal((await request(`${server.url}/purging/_purged_infos_limit`)).body, 1000);
  });

  test('missing database: 404', async () => {
    const res = await request(`${server.url}/nodb/_purge`, { method: 'POST', body: {} });
    assert.equal(res.status, 404);
  });

  test('_purged_infos lists the purges remembered, oldest first, within _purged_infos_limit', async () => {
    const u = `${server.url}/infos`;
    await request(u, { method: 'PUT' });
    const revs: string[] = [];
    for (const id of ['p1', 'p2', 'p3']) revs.push((await request(`${u}/${id}`, { method: 'PUT', body: {} })).body.rev);
    for (const [i, id] of ['p1', 'p2', 'p3'].entries()) assert.equal((await request(`${u}/_purge`, { method: 'POST', body: { [id]: [revs[i]] } })).status, 201);
    const all = await request(`${u}/_purged_infos`);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, { purged_infos: [{ id: 'p1', revs: [revs[0]] }, { id: 'p2', revs: [revs[1]] }, { id: 'p3', revs: [revs[2]] }] });
    assert.equal((await request(`${u}/_purged_infos_limit`, { method: 'PUT', raw: '2', headers: { 'content-type': 'application/json' } })).status, 200);
    assert.deepEqual((await request(`${u}/_purged_infos`)).body.purged_infos.map((p: { id: string }) => p.id), ['p2', 'p3']);
    assert.equal((await request(`${u}/_purged_infos`, { method: 'POST', body: {} })).status, 405);
  });
});

describe('_purge needs the admin', () => {
  let server: TestServer;
  const admin = { authorization: 'Basic ' + Buffer.from('admin:secret').toString('base64') };

  before(async () => {
    server = await startTestServer({ admin: 'admin:secret' });
  });
  after(() => server.close());

  test('anonymous purges and limit changes are 401; the admin purges', async () => {
    const u = server.url;
    assert.equal((await request(`${u}/guarded`, { method: 'PUT', headers: admin })).status, 201);
    const doc = await request(`${u}/guarded/d`, { method: 'PUT', body: { x: 1 }, headers: admin });
    const anon = await request(`${u}/guarded/_purge`, { method: 'POST', body: { d: [doc.body.rev] } });
    assert.equal(anon.status, 401);
    const anonLimit = await request(`${u}/guarded/_purged_infos_limit`, { method: 'PUT', raw: '3', headers: { 'content-type': 'application/json' } });
    assert.equal(anonLimit.status, 401);
    assert.equal((await request(`${u}/guarded/d`, { headers: admin })).status, 200);
    const ok = await request(`${u}/guarded/_purge`, { method: 'POST', body: { d: [doc.body.rev] }, headers: admin });
    assert.deepEqual([ok.status, ok.body], [201, { purge_seq: null, purged: { d: [doc.body.rev] } }]);
    assert.equal((await request(`${u}/guarded/d`, { headers: admin })).status, 404);
    assert.equal((await request(`${u}/guarded`, { headers: admin })).body.purge_seq, 1);
  });
});
