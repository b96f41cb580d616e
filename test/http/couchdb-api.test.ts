// Status codes, headers and body shapes as CouchDB 3 answers them: server, database and document
// endpoints, ETags and If-Match/If-None-Match, replication helpers, unimplemented routes, and the
// admin: Basic auth, cookie sessions, and refusing to listen publicly without one.

import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRefugeError } from '../../src/errors/index.ts';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { request as httpRequest } from 'node:http';
import { request, startTestServer, type TestServer } from './server.ts';

const REV1 = '1-' + 'a'.repeat(32);
const REV2 = '2-' + 'b'.repeat(32);

const isCouchError = (body: any, error?: string) =>
  typeof body?.error === 'string' && typeof body?.reason === 'string' && (error === undefined || body.error === error);

describe('CouchDB API shapes', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer();
    u = server.url;
  });
  after(() => server.close());

  test('GET / welcomes like CouchDB, with the vendor', async () => {
    const res = await request(`${u}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    assert.equal(res.body.couchdb, 'Welcome');
    assert.match(res.body.version, /^3\./);
    assert.equal(res.body.vendor.name, 'Refuge');
    assert.equal(typeof res.body.vendor.version, 'string');
    assert.match(res.body.uuid, /^[0-9a-f]{32}$/);
    assert.match(res.headers.get('server')!, /^CouchDB\/3\.\d+\.\d+ \(Refuge /);
  });

  test('_up, _uuids, _all_dbs', async () => {
    assert.deepEqual((await request(`${u}/_up`)).body.status, 'ok');
    const uuids = await request(`${u}/_uuids?count=3`);
    assert.equal(uuids.status, 200);
    assert.equal(uuids.body.uuids.length, 3);
    assert.equal(new Set(uuids.body.uuids).size, 3);
    for (const id of uuids.body.uuids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal((await request(`${u}/_uuids`)).body.uuids.length, 1);
    // Time-ordered (CouchDB's `utc_random` layout): each id after the last, across requests.
    const many = [...(await request(`${u}/_uuids?count=1000`)).body.uuids, ...(await request(`${u}/_uuids?count=1000`)).body.uuids];
    assert.equal(new Set(many).size, 2000);
    assert.deepEqual(many.filter((id, i) => i > 0 && id <= many[i - 1]), [], 'every id after the one before');
    const micros = Number.parseInt(many[0].slice(0, 14), 16);
    assert.ok(Math.abs(micros / 1000 - Date.now()) < 60_000, `the first 14 digits are the time in microseconds: ${many[0]}`);
    // Zero asks for none, as CouchDB answers it.
    assert.deepEqual((await request(`${u}/_uuids?count=0`)).body, { uuids: [] });
    for (const bad of ['-1', 'x', '100000']) {
      const r = await request(`${u}/_uuids?count=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.ok(isCouchError(r.body, 'bad_request'));
    }
    await request(`${u}/alpha`, { method: 'PUT' });
    await request(`${u}/beta`, { method: 'PUT' });
    const dbs = await request(`${u}/_all_dbs`);
    assert.ok(Array.isArray(dbs.body));
    assert.ok(dbs.body.includes('alpha') && dbs.body.includes('beta'));
    assert.deepEqual(dbs.body, [...dbs.body].sort());
    // _all_docs's range options, as CouchDB takes them for _all_dbs
    await request(`${u}/gamma`, { method: 'PUT' });
    const names = async (qs: string) => (await request(`${u}/_all_dbs?${qs}`)).body;
    assert.deepEqual(await names('startkey=%22alpha%22&endkey=%22gamma%22'), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await names('start_key=%22alpha%22&end_key=%22gamma%22&inclusive_end=false'), ['alpha', 'beta']);
    assert.deepEqual(await names('startkey=%22gamma%22&endkey=%22alpha%22&descending=true'), ['gamma', 'beta', 'alpha']);
    assert.deepEqual(await names('startkey=%22alpha%22&endkey=%22gamma%22&skip=1&limit=1'), ['beta']);
    assert.deepEqual(await names('startkey=%22alpha%22&limit=0'), []);
    assert.equal((await names('descending=true'))[0], [...dbs.body, 'gamma'].sort().at(-1));
    // Refused by _all_docs's parser, with its errors (couch_mrview_http:parse_params).
    for (const [bad, error] of [['limit=-1', 'query_parse_error'], ['startkey=alpha', 'bad_request'], ['descending=yes', 'query_parse_error']]) {
      const r = await request(`${u}/_all_dbs?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.ok(isCouchError(r.body, error!), bad);
    }
  });

  test('_all_docs, _design_docs and _local_docs: options in a POST body, and /queries', async () => {
    const db = `${u}/listing`;
    await request(db, { method: 'PUT' });
    for (const id of ['a', 'b', 'c', '_design/x', '_design/y', '_local/l1', '_local/l2']) await request(`${db}/${id}`, { method: 'PUT', body: { id } });
    const gone = await request(`${db}/c`);
    await request(`${db}/c?rev=${gone.body._rev}`, { method: 'DELETE' });
    // A PUT that deletes answers 200, as a DELETE does (CouchDB's update_doc status).
    const b = await request(`${db}/b`);
    const deleted = await request(`${db}/b`, { method: 'PUT', body: { _rev: b.body._rev, _deleted: true } });
    assert.deepEqual([deleted.status, deleted.body.ok], [200, true]);
    await request(`${db}/b`, { method: 'PUT', body: { id: 'b' } });
    const ids = (body: any) => body.rows.map((r: any) => r.id ?? r.key);
    // Options in the body, as CouchDB reads them (the query string still counts).
    const posted = await request(`${db}/_all_docs`, { method: 'POST', body: { keys: ['a', 'c', 'zz'], include_docs: true } });
    assert.deepEqual(posted.body.rows.map((r: any) => [r.key, r.doc === null ? null : (r.doc?.id ?? r.error)]), [['a', 'a'], ['c', null], ['zz', 'not_found']]);
    assert.equal(posted.body.rows[1].value.deleted, true);
    assert.deepEqual(ids((await request(`${db}/_all_docs?limit=1`, { method: 'POST', body: { startkey: 'b' } })).body), ['b']);
    // `offset` counts the live rows before the first one (the deleted `c` is not a row), as CouchDB does.
    assert.equal((await request(`${db}/_all_docs?limit=1`, { method: 'POST', body: { startkey: 'b' } })).body.offset, 3);
    assert.equal((await request(`${db}/_all_docs?startkey=%22a%22&skip=1`)).body.offset, 3);
    assert.equal((await request(`${db}/_all_docs?startkey=%22a%22&descending=true`)).body.offset, 1);
    // `;` separates query parameters as `&` does, as in CouchDB (mochiweb); an encoded one is a character.
    assert.deepEqual(ids((await request(`${db}/_all_docs?limit=1;startkey=%22b%22`)).body), ['b']);
    assert.equal((await request(`${db}/_all_docs?limit=1;skip=1`)).body.rows.length, 1);
    assert.equal((await request(`${db}/_all_docs?startkey=%22a%3Bb%22;limit=5`)).body.rows[0].id, 'b');
    assert.deepEqual(ids((await request(`${db}/_all_docs`, { method: 'POST', body: { startkey: 'b', endkey: '_design/', descending: true } })).body), ['b', 'a', '_design/y', '_design/x']);
    for (const body of [{ limit: -1 }, { include_docs: 'yes' }, { descending: {} }, { keys: 'a' }]) {
      const bad = await request(`${db}/_all_docs`, { method: 'POST', body });
      assert.equal(bad.status, 400, JSON.stringify(body));
    }
    assert.equal((await request(`${db}/_all_docs`, { method: 'POST', body: { keys: 1 } })).body.reason, '`keys` body member must be an array.');
    // Listed keys and a key range do not mix, as in CouchDB.
    for (const q of ['startkey=%22a%22', 'key=%221%22', 'endkey=%22z%22']) {
      const mixedRange = await request(`${db}/_all_docs?${q}`, { method: 'POST', body: { keys: ['a'] } });
      assert.equal(mixedRange.status, 400, q);
      assert.equal(mixedRange.body.error, 'query_parse_error');
    }
    assert.equal((await request(`${db}/_all_docs?startkey=%22a%22`, { method: 'POST', body: { keys: [] } })).status, 200);
    // Keys that are not strings name no document: CouchDB answers not_found for them, in place.
    const mixed = await request(`${db}/_all_docs`, { method: 'POST', body: { keys: [1, 'a', null, { k: 2 }] } });
    assert.deepEqual(mixed.body.rows.map((r: any) => [r.key, r.error ?? r.id]), [[1, 'not_found'], ['a', 'a'], [null, 'not_found'], [{ k: 2 }, 'not_found']]);
    assert.deepEqual((await request(`${db}/_all_docs?limit=1`, { method: 'POST', body: { keys: [1, 2] } })).body.rows, [{ key: 1, error: 'not_found' }]);
    // Keys starting with NUL (the mark non-string keys travel with) come back as sent.
    const nul = await request(`${db}/_all_docs`, { method: 'POST', body: { keys: ['\u0000', '\u00001'] } });
    assert.equal(nul.status, 200);
    assert.deepEqual(nul.body.rows, [{ key: '\u0000', error: 'not_found' }, { key: '\u00001', error: 'not_found' }]);
    // Several queries at once.
    const many = await request(`${db}/_all_docs/queries`, { method: 'POST', body: { queries: [{ keys: ['b'] }, { limit: 2, skip: 1 }, { startkey: 'b', include_docs: true }] } });
    assert.equal(many.status, 200);
    assert.deepEqual(many.body.results.map(ids), [['b'], ['_design/y', 'a'], ['b']]);
    assert.equal(many.body.results[2].rows[0].doc.id, 'b');
    // _design_docs: the same options, inside _design/ only.
    assert.deepEqual(ids((await request(`${db}/_design_docs`)).body), ['_design/x', '_design/y']);
    assert.deepEqual(ids((await request(`${db}/_design_docs?descending=true&limit=1`)).body), ['_design/y']);
    assert.deepEqual(ids((await request(`${db}/_design_docs?startkey=%22_design%2Fy%22`)).body), ['_design/y']);
    // Keys outside the namespace are left out, as CouchDB's filter_keys_by_namespace leaves them.
    assert.deepEqual(ids((await request(`${db}/_design_docs`, { method: 'POST', body: { keys: ['_design/x', 'a'] } })).body), ['_design/x']);
    assert.deepEqual(ids((await request(`${db}/_design_docs?key=%22a%22`)).body), []);
    // Rows asked by keys have no place: offset and update_seq are null, as CouchDB answers them.
    const byKeys = await request(`${db}/_all_docs?update_seq=true`, { method: 'POST', body: { keys: ['a'] } });
    assert.deepEqual([byKeys.body.offset, byKeys.body.update_seq, byKeys.body.total_rows], [null, null, 4]);
    assert.equal((await request(`${db}/_all_docs?keys=%5B%22a%22%5D`)).body.offset, null);
    assert.deepEqual((await request(`${db}/_all_docs/queries`, { method: 'POST', body: { queries: [{ keys: ['a'] }, { limit: 1 }] } })).body.results.map((r: any) => r.offset), [null, 0]);
    assert.equal(typeof (await request(`${db}/_design_docs?key=%22a%22`)).body.offset, 'number');
    assert.deepEqual((await request(`${db}/_design_docs/queries`, { method: 'POST', body: { queries: [{}, { limit: 1 }] } })).body.results.map(ids), [['_design/x', '_design/y'], ['_design/x']]);
    assert.equal((await request(`${db}/_design_docs?limit=abc`)).status, 400);
    const locals = await request(`${db}/_local_docs/queries`, { method: 'POST', body: { queries: [{ limit: 1 }, { descending: true }] } });
    assert.deepEqual(locals.body.results.map(ids), [['_local/l1'], ['_local/l2', '_local/l1']]);
    for (const body of [{}, { queries: {} }, { queries: [1] }]) {
      assert.equal((await request(`${db}/_all_docs/queries`, { method: 'POST', body })).status, 400, JSON.stringify(body));
    }
    const get = await request(`${db}/_all_docs/queries`);
    assert.equal(get.status, 405);
    assert.equal(get.body.error, 'method_not_allowed');
    // A parameter in both the query string and the body: the query string wins, as in CouchDB.
    for (const path of ['_all_docs', '_design_docs', '_local_docs']) {
      const both = await request(`${db}/${path}?limit=0`, { method: 'POST', body: { limit: 2 } });
      assert.deepEqual(both.body.rows, [], path);
    }
    // _design_docs counts design documents in total_rows.
    assert.equal((await request(`${db}/_design_docs`)).body.total_rows, 2);
    assert.equal((await request(`${db}/_design_docs?limit=1`, { method: 'POST', body: {} })).body.total_rows, 2);
  });

  test('X-HTTP-Method-Override turns a POST into the method it names (and nothing else)', async () => {
    const db = `${u}/override`;
    await request(db, { method: 'PUT' });
    const put = await request(`${db}/fnord`, { method: 'POST', body: { bob: 'connie' }, headers: { 'x-http-method-override': 'PUT' } });
    assert.equal(put.status, 201);
    assert.equal((await request(`${db}/fnord`)).body.bob, 'connie');
    const del = await request(`${db}/fnord?rev=${put.body.rev}`, { method: 'POST', headers: { 'x-http-method-override': 'DELETE' } });
    assert.equal(del.status, 200);
    assert.equal((await request(`${db}/fnord`)).status, 404);
    // Only a POST is overridden.
    assert.equal((await request(`${db}/fnord`, { method: 'GET', headers: { 'x-http-method-override': 'PUT' } })).status, 404);
  });

  test('_uuids are never cached; _bulk_docs: all_or_nothing 417, new_edits:false needs revs, _local documents', async () => {
    const a = await request(`${u}/_uuids`);
    const b = await request(`${u}/_uuids`);
    assert.match(a.headers.get('cache-control')!, /no-cache/);
    assert.equal(a.headers.get('pragma'), 'no-cache');
    assert.ok(a.headers.get('etag') && a.headers.get('etag') !== b.headers.get('etag'));
    const post = await request(`${u}/_uuids`, { method: 'POST' });
    assert.equal(post.status, 405);
    const db = `${u}/bulkrules`;
    await request(db, { method: 'PUT' });
    const aon = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'x' }, { v: 1 }, { _id: 'z', _rev: '2-abc' }], all_or_nothing: true } });
    assert.equal(aon.status, 417);
    // As CouchDB's rows: an id (drawn for a document without one) and a rev ("0-" for a new one).
    const notSupported = { error: 'not_implemented', reason: 'all_or_nothing is not supported' };
    assert.deepEqual([aon.body[0], aon.body[2]], [{ id: 'x', rev: '0-', ...notSupported }, { id: 'z', rev: '2-abc', ...notSupported }]);
    assert.match(aon.body[1].id, /^[0-9a-f]{32}$/);
    assert.equal((await request(`${db}/x`)).status, 404, 'nothing written');
    // The documents' own checks come first (400); replicated writes ignore the flag, as CouchDB's do; no documents, no refusal.
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'x' }, 'notobj'], all_or_nothing: true } })).status, 400);
    const replicated = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'r1', _rev: '1-abc' }], new_edits: false, all_or_nothing: true } });
    assert.equal(replicated.status, 201);
    assert.equal((await request(`${db}/r1`)).body._rev, '1-abc');
    assert.deepEqual(await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [], all_or_nothing: true } }).then((r) => [r.status, r.body]), [201, []]);
    const norev = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'y' }], new_edits: false } });
    assert.equal(norev.status, 400);
    assert.match(norev.body.reason, /needs `_rev` or `_revisions`/);
    const notArray = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: 'foo' } });
    assert.deepEqual(notArray.body, { error: 'bad_request', reason: '`docs` parameter must be an array.' });
    assert.equal((await request(db)).body.doc_count, 1, 'only the replicated r1');
    // _local documents in a bulk write, as CouchDB takes them.
    const mixed = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: '_design/d' }, { _id: '_local/l', v: 1 }, { _id: 'plain' }] } });
    assert.equal(mixed.status, 201);
    assert.deepEqual(mixed.body.map((r: any) => [r.id, r.ok === true]), [['_design/d', true], ['_local/l', true], ['plain', true]]);
    assert.equal((await request(`${db}/_local/l`)).body.v, 1);
    // A malformed local document fails the whole request, nothing written, as any other does.
    for (const bad of [{ _id: '_local/a', _bogus: 1 }, { _id: '_local/b', _deleted: 'x' }, { _id: '_local/c', _rev: 'nope' }]) {
      const refused = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'fine' }, bad] } });
      assert.equal(refused.status, 400, JSON.stringify(bad));
      assert.equal((await request(`${db}/${bad._id}`)).status, 404, JSON.stringify(bad));
    }
    assert.equal((await request(`${db}/fine`)).status, 404, 'nothing written');
    // No rev check on local documents (CouchDB 2+): the new rev counts on from the one given.
    const stale = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: '_local/l', _rev: '0-9', v: 2 }] } });
    assert.deepEqual(stale.body, [{ ok: true, id: '_local/l', rev: '0-10' }]);
    assert.equal((await request(`${db}/_local/l`)).body.v, 2);
    // DELETE: a missing local document is 404 before its rev is read; an existing one goes whatever
    // rev is named, or none (chttpd_db opens the document first; deletions become 0-0).
    const missing = await request(`${db}/_local/nothere?rev=1-fake`, { method: 'DELETE' });
    assert.deepEqual([missing.status, missing.body], [404, { error: 'not_found', reason: 'missing' }]);
    const anyRev = await request(`${db}/_local/l?rev=1-fake`, { method: 'DELETE' });
    assert.deepEqual([anyRev.status, anyRev.body], [200, { ok: true, id: '_local/l', rev: '0-0' }]);
    await request(`${db}/_local/l`, { method: 'PUT', body: { v: 3 } });
    const noRev = await request(`${db}/_local/l`, { method: 'DELETE' });
    assert.deepEqual([noRev.status, noRev.body], [200, { ok: true, id: '_local/l', rev: '0-0' }]);
    assert.equal((await request(`${db}/_local/l`)).status, 404);
  });

  test('attachments: an unknown rev is a conflict; names starting with _ are refused, with nothing stored', async () => {
    const db = `${u}/attrules`;
    await request(db, { method: 'PUT' });
    const doc = await request(`${db}/d`, { method: 'PUT', body: { v: 1 } });
    const unknown = `1-${'a'.repeat(32)}`;
    const put = await request(`${db}/d/a.txt?rev=${unknown}`, { method: 'PUT', raw: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 409);
    assert.deepEqual(put.body, { error: 'not_found', reason: 'missing_rev' });
    const added = await request(`${db}/d/a.txt?rev=${doc.body.rev}`, { method: 'PUT', raw: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(added.status, 201);
    assert.equal(added.headers.get('location'), `${db}/d/a.txt`);
    // Content-MD5, when sent, is checked as CouchDB checks it: a mismatch writes nothing.
    const md5 = (text: string) => createHash('md5').update(text).digest('base64');
    const m = await request(`${db}/m`, { method: 'PUT', body: {} });
    const wrong = await request(`${db}/m/b.txt?rev=${m.body.rev}`, { method: 'PUT', raw: 'hello', headers: { 'content-type': 'text/plain', 'content-md5': md5('hullo') } });
    assert.deepEqual([wrong.status, wrong.body.error], [400, 'content_md5_mismatch']);
    assert.equal((await request(`${db}/m`)).body._rev, m.body.rev);
    const right = await request(`${db}/m/b.txt?rev=${m.body.rev}`, { method: 'PUT', raw: 'hello', headers: { 'content-type': 'text/plain', 'content-md5': md5('hello') } });
    assert.equal(right.status, 201);
    await request(`${db}/m?rev=${right.body.rev}`, { method: 'DELETE' });
    const del = await request(`${db}/d/a.txt?rev=${unknown}`, { method: 'DELETE' });
    assert.deepEqual([del.status, del.body], [409, { error: 'not_found', reason: 'missing_rev' }]);
    // Without a rev, CouchDB looks first: a missing or deleted document, or a missing attachment,
    // is a 404; only an attachment that is there conflicts.
    const noRev = async (path: string) => {
      const r = await request(`${db}/${path}`, { method: 'DELETE' });
      return [r.status, r.body];
    };
    assert.deepEqual(await noRev('nodoc/a.txt'), [404, { error: 'not_found', reason: 'missing' }]);
    assert.deepEqual(await noRev('m/b.txt'), [404, { error: 'not_found', reason: 'deleted' }]);
    assert.deepEqual(await noRev('d/nope.txt'), [404, { error: 'not_found', reason: 'Document is missing attachment' }]);
    assert.deepEqual(await noRev('d/a.txt'), [409, { error: 'conflict', reason: 'Document update conflict.' }]);
    const reason = "Attachment name '_foo.txt' starts with prohibited character '_'";
    const standalone = await request(`${db}/d/_foo.txt?rev=${added.body.rev}`, { method: 'PUT', raw: 'x', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual([standalone.status, standalone.body], [400, { error: 'bad_request', reason }]);
    const inline = await request(`${db}/e`, { method: 'PUT', body: { _attachments: { '_foo.txt': { content_type: 'text/plain', data: 'eA==' } } } });
    assert.deepEqual([inline.status, inline.body], [400, { error: 'bad_request', reason }]);
    const bulk = await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'ok' }, { _id: 'f', _attachments: { '_foo.txt': { content_type: 'text/plain', data: 'eA==' } } }] } });
    assert.equal(bulk.status, 400, 'the whole request is refused');
    const info = (await request(db)).body;
    assert.equal(info.doc_count, 1);
    assert.deepEqual(Object.keys((await request(`${db}/d`)).body._attachments), ['a.txt']);
  });

  test('_dbs_info: several databases at once, by keys (POST) or over _all_dbs (GET)', async () => {
    await request(`${u}/info-a`, { method: 'PUT' });
    await request(`${u}/info-b`, { method: 'PUT' });
    await request(`${u}/info-b/d`, { method: 'PUT', body: {} });
    const byKeys = await request(`${u}/_dbs_info`, { method: 'POST', body: { keys: ['info-b', 'nope', 'info-a'] } });
    assert.equal(byKeys.status, 200);
    assert.deepEqual(byKeys.body.map((r: any) => [r.key, r.info?.doc_count ?? r.error]), [['info-b', 1], ['nope', 'not_found'], ['info-a', 0]]);
    assert.equal(byKeys.body[0].info.db_name, 'info-b');
    const listed = await request(`${u}/_dbs_info?startkey=%22info-z%22&endkey=%22info-%22&descending=true&limit=1`);
    assert.deepEqual(listed.body.map((r: any) => r.key), ['info-b']);
    for (const body of [{}, { keys: 'info-a' }, { keys: [1] }, { keys: Array.from({ length: 101 }, (_, i) => `db${i}`) }]) {
      const bad = await request(`${u}/_dbs_info`, { method: 'POST', body });
      assert.equal(bad.status, 400, JSON.stringify(body).slice(0, 40));
      assert.ok(isCouchError(bad.body, 'bad_request'));
    }
  });

  test('database lifecycle: PUT 201/412/400, GET/HEAD 200/404, DELETE 200/404', async () => {
    const created = await request(`${u}/lifecycle`, { method: 'PUT' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { ok: true });
    assert.equal(created.headers.get('location'), `${u}/lifecycle`);
    const again = await request(`${u}/lifecycle`, { method: 'PUT' });
    assert.equal(again.status, 412);
    assert.ok(isCouchError(again.body, 'file_exists'));
    for (const bad of ['Upper', '1digit', '_underscore', 'sp%20ace', 'a%3Fb', 'dot.name']) {
      const r = await request(`${u}/${bad}`, { method: 'PUT' });
      assert.equal(r.status, 400, bad);
      assert.ok(isCouchError(r.body, 'illegal_database_name'), `${bad}: ${r.text}`);
    }
    // CouchDB's reason, its quotes included.
    assert.match((await request(`${u}/Upper`, { method: 'PUT' })).body.reason, /^Name: 'Upper'\. Only lowercase characters/);
    // A system database a client may create, as in CouchDB: _global_changes too.
    assert.equal((await request(`${u}/_global_changes`, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${u}/_global_changes`, { method: 'DELETE' })).status, 200);
    // Partitioned databases are refused, as a CouchDB with the feature off does: nothing is created.
    const partitioned = await request(`${u}/parts?partitioned=true`, { method: 'PUT' });
    assert.deepEqual([partitioned.status, partitioned.body], [400, { error: 'bad_request', reason: 'Partitioned feature is not enabled.' }]);
    assert.equal((await request(`${u}/parts`)).status, 404);
    assert.equal((await request(`${u}/parts?partitioned=false`, { method: 'PUT' })).status, 201);
    // A method no route takes is a 405 that names the ones the path does take, as CouchDB's.
    const patch = await request(`${u}/parts`, { method: 'PATCH' });
    assert.deepEqual([patch.status, patch.body], [405, { error: 'method_not_allowed', reason: 'Only DELETE,GET,HEAD,POST,PUT allowed' }]);
    assert.equal((await request(`${u}/parts/doc`, { method: 'PATCH' })).body.reason, 'Only COPY,DELETE,GET,HEAD,POST,PUT allowed');
    await request(`${u}/parts/_design/d`, { method: 'PUT', body: { views: { v: { map: 'function (d) { emit(d._id) }' } } } });
    const viewDelete = await request(`${u}/parts/_design/d/_view/v`, { method: 'DELETE' });
    assert.deepEqual([viewDelete.status, viewDelete.body.error], [405, 'method_not_allowed']);
    assert.equal((await request(`${u}/parts/_design/d/_view/v`)).status, 200);
    // A DELETE with a rev (said once or twice) was meant for a document: the database stays.
    for (const q of ['?rev=1-abc', '?rev=1-abc&rev=2-def', '?rev=']) {
      const r = await request(`${u}/lifecycle${q}`, { method: 'DELETE' });
      assert.equal(r.status, 400, q);
    }
    const info = await request(`${u}/lifecycle`);
    assert.equal(info.status, 200);
    // A small database lives in LevelDB's memory table, yet its sizes are not zero.
    await request(`${u}/lifecycle/sized`, { method: 'PUT', body: { text: 'x'.repeat(500) } });
    const sized = (await request(`${u}/lifecycle`)).body.sizes;
    assert.ok(sized.external > 500 && sized.active > 0 && sized.file > 0, JSON.stringify(sized));
    for (const key of ['db_name', 'update_seq', 'doc_count', 'doc_del_count', 'sizes', 'instance_start_time', 'cluster']) assert.ok(key in info.body, key);
    assert.equal(info.body.db_name, 'lifecycle');
    const head = await request(`${u}/lifecycle`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    const headMissing = await request(`${u}/nothere`, { method: 'HEAD' });
    assert.equal(headMissing.status, 404);
    const missing = await request(`${u}/nothere`);
    assert.equal(missing.status, 404);
    assert.ok(isCouchError(missing.body, 'not_found'));
    const withRev = await request(`${u}/lifecycle?rev=1-abc`, { method: 'DELETE' });
    assert.equal(withRev.status, 400);
    assert.equal((await request(`${u}/lifecycle`, { method: 'DELETE' })).status, 200);
    assert.equal((await request(`${u}/lifecycle`, { method: 'DELETE' })).status, 404);
    assert.equal((await request(`${u}/lifecycle`)).status, 404);
    // Names with a slash are legal when encoded.
    assert.equal((await request(`${u}/team%2Fnotes`, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${u}/team%2Fnotes`)).body.db_name, 'team/notes');
  });

  test('POST /db creates a document with a generated id; documents carry ETags', async () => {
    await request(`${u}/docs`, { method: 'PUT' });
    const posted = await request(`${u}/docs`, { method: 'POST', body: { a: 1 } });
    assert.equal(posted.status, 201);
    assert.equal(posted.body.ok, true);
    assert.match(posted.body.id, /^[0-9a-f]{32}$/);
    assert.match(posted.body.rev, /^1-[0-9a-f]{32}$/);
    assert.equal(posted.headers.get('location'), `${u}/docs/${posted.body.id}`);
    // Absolute, as CouchDB: behind a proxy, the host the client used.
    const proxied = await request(`${u}/docs`, { method: 'POST', body: {}, headers: { 'x-forwarded-host': 'example.org:8080' } });
    assert.equal(proxied.headers.get('location'), `http://example.org:8080/docs/${proxied.body.id}`);
    const urlNamed = await request(`${u}/docs/a%2Fb`, { method: 'PUT', body: { _id: 'ignored' } });
    assert.equal(urlNamed.body.id, 'a/b', 'the URL names the document, not the body');
    assert.equal(urlNamed.headers.get('location'), `${u}/docs/a%2Fb`);
    // batch=ok: accepted (202), the id only, as CouchDB.
    const batched = await request(`${u}/docs/batched?batch=ok`, { method: 'PUT', body: { v: 1 } });
    assert.equal(batched.status, 202);
    assert.deepEqual(batched.body, { ok: true, id: 'batched' });
    const again = await request(`${u}/docs/batched?batch=ok`, { method: 'PUT', body: { v: 2 } });
    assert.equal(again.status, 202, 'a conflict is not reported in batch mode');
    assert.equal((await request(`${u}/docs/batched`)).body.v, 1);
    // With new_edits=false, a replicated revision as any other write of one (it was dropped).
    const branch = `1-${'b'.repeat(32)}`;
    const replicated = await request(`${u}/docs/batched?batch=ok&new_edits=false`, { method: 'PUT', body: { _rev: branch, v: 9 } });
    assert.equal(replicated.status, 202);
    assert.deepEqual((await request(`${u}/docs/batched?rev=${branch}`)).body.v, 9);
    const postBatch = await request(`${u}/docs?batch=ok`, { method: 'POST', body: { v: 3 } });
    assert.equal(postBatch.status, 202);
    assert.match(postBatch.body.id, /^[0-9a-f]{32}$/);
    const notObject = await request(`${u}/docs/arr`, { method: 'PUT', body: [] });
    assert.deepEqual(notObject.body, { error: 'bad_request', reason: 'Document must be a JSON object' });
    const withId = await request(`${u}/docs`, { method: 'POST', body: { _id: 'chosen', a: 2 } });
    assert.equal(withId.body.id, 'chosen');

    const put = await request(`${u}/docs/d1`, { method: 'PUT', body: { v: 1 } });
    assert.equal(put.status, 201);
    assert.equal(put.headers.get('etag'), `"${put.body.rev}"`);
    const got = await request(`${u}/docs/d1`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('etag'), `"${put.body.rev}"`);
    const notModified = await request(`${u}/docs/d1`, { headers: { 'if-none-match': `"${put.body.rev}"` } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.text, '');
    const modified = await request(`${u}/docs/d1`, { headers: { 'if-none-match': `"${REV1}"` } });
    assert.equal(modified.status, 200);
    const head = await request(`${u}/docs/d1`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), `"${put.body.rev}"`);
    assert.equal((await request(`${u}/docs/nope`, { method: 'HEAD' })).status, 404);
  });

  test('If-Match on PUT and DELETE; rev disagreements are 400', async () => {
    const first = await request(`${u}/docs/ifm`, { method: 'PUT', body: { v: 1 } });
    const rev = first.body.rev as string;
    const stale = await request(`${u}/docs/ifm`, { method: 'PUT', body: { v: 2 }, headers: { 'if-match': `"${REV1}"` } });
    assert.equal(stale.status, 409);
    assert.ok(isCouchError(stale.body, 'conflict'));
    const ok = await request(`${u}/docs/ifm`, { method: 'PUT', body: { v: 2 }, headers: { 'if-match': `"${rev}"` } });
    assert.equal(ok.status, 201);
    const rev2 = ok.body.rev as string;
    const disagree = await request(`${u}/docs/ifm?rev=${rev2}`, { method: 'PUT', body: { _rev: rev, v: 3 } });
    assert.equal(disagree.status, 400);
    assert.ok(isCouchError(disagree.body, 'bad_request'));
    const noRev = await request(`${u}/docs/ifm`, { method: 'DELETE' });
    assert.equal(noRev.status, 409);
    const staleDel = await request(`${u}/docs/ifm`, { method: 'DELETE', headers: { 'if-match': `"${rev}"` } });
    assert.equal(staleDel.status, 409);
    const del = await request(`${u}/docs/ifm`, { method: 'DELETE', headers: { 'if-match': `"${rev2}"` } });
    assert.equal(del.status, 200);
    assert.equal(del.body.ok, true);
    assert.match(del.body.rev, /^3-/);
    assert.equal(del.headers.get('etag'), `"${del.body.rev}"`);
    const gone = await request(`${u}/docs/ifm`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { error: 'not_found', reason: 'deleted' });
    const rqDel = await request(`${u}/docs/d1?rev=${REV1}`, { method: 'DELETE' });
    assert.equal(rqDel.status, 409);
    // As CouchDB 3: a missing (or deleted) document is a 404 before any rev is looked at.
    assert.equal((await request(`${u}/docs/never-there?rev=${REV1}`, { method: 'DELETE' })).status, 404);
    assert.equal((await request(`${u}/docs/ifm?rev=${del.body.rev}`, { method: 'DELETE' })).status, 404);
    // If-Match against the body's _rev: CouchDB's own reason.
    const etagDisagrees = await request(`${u}/docs/ifm2`, { method: 'PUT', body: { _rev: REV1 }, headers: { 'if-match': `"${REV2}"` } });
    assert.deepEqual(etagDisagrees.body, { error: 'bad_request', reason: 'Document rev and etag have different values' });
  });

  test('revisions with hashes that are not hex: missing to read, a conflict to edit, and stored when replicated', async () => {
    const created = await request(`${u}/docs/foreign`, { method: 'PUT', body: { v: 1 } });
    assert.equal(created.status, 201);
    const put = await request(`${u}/docs/foreign`, { method: 'PUT', body: { _rev: '1-asfafasdf', v: 2 } });
    assert.equal(put.status, 409);
    assert.equal(put.body.error, 'conflict');
    assert.deepEqual((await request(`${u}/docs/foreign?rev=1-foobar`)).body, { error: 'not_found', reason: 'missing' });
    assert.equal((await request(`${u}/docs/foreign?rev=1-foobar`, { method: 'DELETE' })).status, 409);
    const openRevs = await request(`${u}/docs/foreign?open_revs=${encodeURIComponent('["1-foobar"]')}`, { headers: { accept: 'application/json' } });
    assert.deepEqual(openRevs.body, [{ missing: '1-foobar' }]);
    const bulk = await request(`${u}/docs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'foreign', _rev: '1-zz', v: 3 }, { _id: 'foreign-new' }] } });
    assert.equal(bulk.status, 201);
    assert.deepEqual(bulk.body.map((r: any) => r.error ?? 'ok'), ['conflict', 'ok']);
    // Replicated writes take any hash, as CouchDB does (PouchDB's tests replicate `2-x`).
    const replicated = await request(`${u}/docs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'opaque', _rev: '2-x', _revisions: { start: 2, ids: ['x', 'a'] }, v: 'x' }], new_edits: false } });
    assert.equal(replicated.status, 201);
    await request(`${u}/docs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'opaque', _rev: '2-y', _revisions: { start: 2, ids: ['y', 'a'] }, v: 'y' }], new_edits: false } });
    const both = await request(`${u}/docs/opaque?open_revs=all`, { headers: { accept: 'application/json' } });
    assert.deepEqual(both.body.map((r: any) => r.ok._rev).sort(), ['2-x', '2-y']);
    // An empty list names no revision: a plain read of the winner, as CouchDB's db_doc_req takes it.
    const none = await request(`${u}/docs/opaque?open_revs=${encodeURIComponent('[]')}`, { headers: { accept: 'application/json' } });
    assert.deepEqual([none.status, none.body._rev, Array.isArray(none.body)], [200, '2-y', false]);
    assert.deepEqual((await request(`${u}/docs/_revs_diff`, { method: 'POST', body: { opaque: ['2-x', '3-randomid'] } })).body, { opaque: { missing: ['3-randomid'], possible_ancestors: ['2-x', '2-y'] } });
    // _revisions names the revision: a _rev that disagrees says nothing more, as in CouchDB.
    const overridden = await request(`${u}/docs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'hist', _rev: '3-c', _revisions: { start: 2, ids: ['c', 'a'] } }], new_edits: false } });
    assert.deepEqual(overridden.body, []);
    assert.equal((await request(`${u}/docs/hist`)).body._rev, '2-c');
    // What no key or JSON can hold is refused whole.
    const unstorable = await request(`${u}/docs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'foreign', _rev: '2-z"z' }], new_edits: false } });
    assert.equal(unstorable.status, 400);
    assert.equal((await request(`${u}/docs/foreign?rev=garbage`)).status, 400);
  });

  test('a _local document written with _deleted: true is deleted (rev 0-0), as in CouchDB', async () => {
    await request(`${u}/localdel`, { method: 'PUT' });
    const made = await request(`${u}/localdel/_local/foo`, { method: 'PUT', body: {} });
    assert.equal(made.body.rev, '0-1');
    const gone = await request(`${u}/localdel/_local/foo`, { method: 'PUT', body: { _rev: '0-1', _deleted: true } });
    assert.deepEqual(gone.body, { ok: true, id: '_local/foo', rev: '0-0' });
    assert.equal((await request(`${u}/localdel/_local/foo`)).status, 404);
    const bulk = await request(`${u}/localdel/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: '_local/bar', x: 1 }] } });
    assert.equal(bulk.body[0].rev, '0-1');
    await request(`${u}/localdel/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: '_local/bar', _rev: '0-1', _deleted: true }] } });
    assert.equal((await request(`${u}/localdel/_local/bar`)).status, 404);
  });

  test('_local without a name, or with more path after it, is a bad request as in CouchDB', async () => {
    await request(`${u}/badlocal`, { method: 'PUT' });
    for (const path of ['_local', '_local/', '_local%2F', '_local/foo/bar']) {
      const res = await request(`${u}/badlocal/${path}`, { method: 'PUT', body: {} });
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error, 'bad_request', path);
    }
    assert.equal((await request(`${u}/badlocal/_local/fine`, { method: 'PUT', body: {} })).status, 201);
    assert.equal((await request(`${u}/badlocal`)).body.doc_count, 0);
  });

  test('ids with a slash, _design/ and _local/ documents', async () => {
    const slash = await request(`${u}/docs/a%2Fb%2Fc`, { method: 'PUT', body: { s: 1 } });
    assert.equal(slash.status, 201);
    assert.equal(slash.body.id, 'a/b/c');
    assert.equal((await request(`${u}/docs/a%2Fb%2Fc`)).body._id, 'a/b/c');
    const ids = (await request(`${u}/docs/_all_docs`)).body.rows.map((r: any) => r.id);
    assert.ok(ids.includes('a/b/c'));

    const ddoc = await request(`${u}/docs/_design/app`, { method: 'PUT', body: { language: 'javascript', views: {} } });
    assert.equal(ddoc.status, 201);
    assert.equal(ddoc.body.id, '_design/app');
    assert.equal((await request(`${u}/docs/_design/app`)).body.language, 'javascript');
    // A GET with the slash encoded is sent to the canonical path, as CouchDB does (fetch follows).
    assert.equal((await request(`${u}/docs/_design%2Fapp`)).body._id, '_design/app');
    const moved = await fetch(`${u}/docs/_design%2Fapp?revs=true`, { redirect: 'manual' });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get('location'), `${u}/docs/_design/app?revs=true`);
    const info = await fetch(`${u}/docs/_design%2Fapp/_info`, { redirect: 'manual' });
    assert.equal(info.status, 301);
    assert.equal(info.headers.get('location'), `${u}/docs/_design/app/_info`);
    assert.equal((await request(`${u}/docs/_design%2Fapp/_info`)).body.name, 'app');
    const ddocDel = await request(`${u}/docs/_design/app?rev=${ddoc.body.rev}`, { method: 'DELETE' });
    assert.equal(ddocDel.status, 200);

    const local = await request(`${u}/docs/_local/ckpt`, { method: 'PUT', body: { seq: 5 } });
    assert.equal(local.status, 201);
    assert.equal(local.body.id, '_local/ckpt');
    const localGet = await request(`${u}/docs/_local/ckpt`);
    assert.equal(localGet.body.seq, 5);
    const localPut2 = await request(`${u}/docs/_local/ckpt`, { method: 'PUT', body: { _rev: localGet.body._rev, seq: 6 } });
    assert.equal(localPut2.status, 201);
    // Local documents never show in _all_docs or _changes.
    assert.ok(!(await request(`${u}/docs/_all_docs`)).body.rows.some((r: any) => r.id.startsWith('_local/')));
    assert.ok(!(await request(`${u}/docs/_changes`)).body.results.some((r: any) => r.id.startsWith('_local/')));
    const localDel = await request(`${u}/docs/_local/ckpt?rev=${localPut2.body.rev}`, { method: 'DELETE' });
    assert.equal(localDel.status, 200);
    assert.equal((await request(`${u}/docs/_local/ckpt`)).status, 404);
  });

  test('replication helpers: _bulk_docs new_edits:false, _revs_diff, _missing_revs, _bulk_get, _ensure_full_commit', async () => {
    await request(`${u}/repl`, { method: 'PUT' });
    const bulk = await request(`${u}/repl/_bulk_docs`, {
      method: 'POST',
      body: { new_edits: false, docs: [{ _id: 'r', _rev: REV1, v: 1 }] },
    });
    assert.equal(bulk.status, 201);
    assert.deepEqual(bulk.body, []);
    const diff = await request(`${u}/repl/_revs_diff`, { method: 'POST', body: { r: [REV2, REV1], other: [REV1] } });
    assert.equal(diff.status, 200);
    assert.deepEqual(diff.body, {
      r: { missing: [REV2], possible_ancestors: [REV1] },
      other: { missing: [REV1] },
    });
    const missing = await request(`${u}/repl/_missing_revs`, { method: 'POST', body: { r: [REV2, REV1] } });
    assert.deepEqual(missing.body, { missing_revs: { r: [REV2] } });
    const got = await request(`${u}/repl/_bulk_get?revs=true`, { method: 'POST', body: { docs: [{ id: 'r', rev: REV1 }, { id: 'zz' }] } });
    assert.equal(got.status, 200);
    assert.equal(got.body.results[0].docs[0].ok._rev, REV1);
    assert.deepEqual(got.body.results[0].docs[0].ok._revisions, { start: 1, ids: ['a'.repeat(32)] });
    // Asked without a rev, the error names the rev "undefined", as CouchDB's does.
    assert.deepEqual(got.body.results[1].docs[0].error, { id: 'zz', rev: 'undefined', error: 'not_found', reason: 'missing' });
    const efc = await request(`${u}/repl/_ensure_full_commit`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(efc.status, 201);
    assert.equal(efc.body.ok, true);
    assert.equal(typeof efc.body.instance_start_time, 'string');
  });

  test('_revs_limit GET/PUT, _compact 202, _purge 201, attachments over HTTP', async () => {
    await request(`${u}/maint`, { method: 'PUT' });
    const limit = await request(`${u}/maint/_revs_limit`);
    assert.equal(limit.status, 200);
    assert.equal(limit.body, 1000);
    const set = await request(`${u}/maint/_revs_limit`, { method: 'PUT', raw: '7', headers: { 'content-type': 'application/json' } });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { ok: true });
    assert.equal((await request(`${u}/maint/_revs_limit`)).body, 7);
    for (const bad of ['"x"', '0', '-3', '1.5', '{}']) {
      const r = await request(`${u}/maint/_revs_limit`, { method: 'PUT', raw: bad, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400, bad);
      assert.ok(isCouchError(r.body));
    }
    const compact = await request(`${u}/maint/_compact`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(compact.status, 202);
    assert.deepEqual(compact.body, { ok: true });
    // CouchDB 3's purge: every id named comes back, with the leaves it removed; purge_seq is null.
    const victim = await request(`${u}/maint/victim`, { method: 'PUT', body: { secret: 1 } });
    const purge = await request(`${u}/maint/_purge`, { method: 'POST', body: { x: [REV1], victim: [victim.body.rev] } });
    assert.equal(purge.status, 201);
    assert.deepEqual(purge.body, { purge_seq: null, purged: { x: [], victim: [victim.body.rev] } });
    assert.equal((await request(`${u}/maint/victim`)).status, 404);
    assert.equal((await request(`${u}/maint`)).body.purge_seq, 2);
    const infosLimit = await request(`${u}/maint/_purged_infos_limit`);
    assert.deepEqual([infosLimit.status, infosLimit.body], [200, 1000]);
    const setInfos = await request(`${u}/maint/_purged_infos_limit`, { method: 'PUT', raw: '5', headers: { 'content-type': 'application/json' } });
    assert.deepEqual([setInfos.status, setInfos.body], [200, { ok: true }]);
    assert.equal((await request(`${u}/maint/_purged_infos_limit`)).body, 5);
    const created = await request(`${u}/maint/withatt`, { method: 'PUT', body: {} });
    let rev = (created.body as { rev: string }).rev;
    // Without the document's rev a write conflicts; with it, any media type is stored as a blob.
    const noRev = await request(`${u}/maint/withatt/file.txt`, { method: 'PUT', raw: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(noRev.status, 409);
    for (const type of ['text/plain', 'application/octet-stream', 'image/png']) {
      const r = await request(`${u}/maint/withatt/file.txt?rev=${rev}`, { method: 'PUT', raw: `hello ${type}`, headers: { 'content-type': type } });
      assert.equal(r.status, 201, `${type}: ${r.text}`);
      rev = (r.body as { rev: string }).rev;
      const got = await fetch(`${u}/maint/withatt/file.txt`);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), type);
      assert.equal(await got.text(), `hello ${type}`);
    }
    const doc = (await request(`${u}/maint/withatt?attachments=true`)).body as { _attachments: Record<string, { data: string; digest: string }> };
    assert.equal(Buffer.from(doc._attachments['file.txt']!.data, 'base64').toString(), 'hello image/png');
    const etag = `"${doc._attachments['file.txt']!.digest}"`;
    assert.equal((await fetch(`${u}/maint/withatt/file.txt`, { headers: { 'if-none-match': etag } })).status, 304);
    const del = await request(`${u}/maint/withatt/file.txt?rev=${rev}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const gone = await request(`${u}/maint/withatt/file.txt`);
    assert.equal(gone.status, 404);
    assert.ok(isCouchError(gone.body, 'not_found'));
  });

  test('database endpoints answer 405 to other methods, never as documents named _all_docs', async () => {
    await request(`${u}/methods`, { method: 'PUT' });
    const cases: Array<[string, string, string]> = [
      ['GET', '_purge', 'Only POST allowed'],
      ['GET', '_bulk_docs', 'Only POST allowed'],
      ['PUT', '_revs_diff', 'Only POST allowed'],
      ['DELETE', '_all_docs', 'Only GET,POST allowed'],
      ['PUT', '_changes', 'Only GET,POST allowed'],
      ['POST', '_revs_limit', 'Only GET,PUT allowed'],
      ['DELETE', '_security', 'Only GET,PUT allowed'],
    ];
    for (const [method, endpoint, reason] of cases) {
      const res = await request(`${u}/methods/${endpoint}`, { method, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      assert.equal(res.status, 405, `${method} ${endpoint}`);
      assert.deepEqual(res.body, { error: 'method_not_allowed', reason });
      // The methods it takes are in Allow too, as CouchDB sends them.
      assert.equal(res.headers.get('allow'), reason.slice('Only '.length, -' allowed'.length));
    }
    assert.equal((await request(`${u}/methods/_all_docs`)).status, 200);
    assert.equal((await request(`${u}/methods`)).body.doc_count, 0);
  });

  test('a path with repeated slashes is read as CouchDB reads it, each run one slash (the query untouched)', async () => {
    // Fauxton asks for `//_cluster_setup`; CouchDB splits paths on `/` and drops the empty parts.
    assert.equal((await request(`${u}//slashes`, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${u}//slashes`)).body.db_name, 'slashes');
    const put = await request(`${u}/slashes//a`, { method: 'PUT', body: { n: 1 } });
    assert.equal(put.status, 201);
    assert.equal(put.body.id, 'a');
    assert.equal((await request(`${u}///slashes///a`)).body.n, 1);
    assert.deepEqual((await request(`${u}/slashes//_all_docs?keys=${encodeURIComponent('["a","a//b"]')}`)).body.rows.map((r: { key: string }) => r.key), ['a', 'a//b']);
    assert.ok((await request(`${u}//_all_dbs`)).body.includes('slashes'), '//_all_dbs lists the databases');
    // An id holding `//`, spelled with %2F, is still that id.
    assert.equal((await request(`${u}/slashes/b%2F%2Fc`, { method: 'PUT', body: {} })).body.id, 'b//c');
    assert.equal((await request(`${u}/slashes/b%2F%2Fc`)).body._id, 'b//c');
  });

  test('_shards: the one shard of a single node, for a database and for any document id; _sync_shards is accepted', async () => {
    await request(`${u}/sharded`, { method: 'PUT' });
    const map = await request(`${u}/sharded/_shards`);
    assert.equal(map.status, 200);
    assert.deepEqual(map.body, { shards: { '00000000-ffffffff': ['nonode@nohost'] } });
    // The database's info tells the same: one shard (q), one copy (n).
    assert.deepEqual((await request(`${u}/sharded`)).body.cluster, { q: 1, n: 1, w: 1, r: 1 });
    // Any id, existing or not, with a slash or not.
    for (const id of ['missing', 'a%2Fb', '_design/d']) {
      assert.deepEqual((await request(`${u}/sharded/_shards/${id}`)).body, { range: '00000000-ffffffff', nodes: ['nonode@nohost'] }, id);
    }
    const sync = await request(`${u}/sharded/_sync_shards`, { method: 'POST', body: {} });
    assert.equal(sync.status, 202);
    assert.deepEqual(sync.body, { ok: true });
    const gone = await request(`${u}/no-such-db/_shards`);
    assert.equal(gone.status, 404);
    assert.ok(isCouchError(gone.body, 'not_found'), JSON.stringify(gone.body));
    for (const [method, endpoint, reason] of [['PUT', '_shards', 'Only GET allowed'], ['GET', '_sync_shards', 'Only POST allowed']] as const) {
      const res = await request(`${u}/sharded/${endpoint}`, { method, body: method === 'PUT' ? {} : undefined });
      assert.equal(res.status, 405, `${method} ${endpoint}`);
      assert.deepEqual(res.body, { error: 'method_not_allowed', reason });
    }
    // Neither is a document.
    assert.equal((await request(`${u}/sharded`)).body.doc_count, 0);
  });

  test('COPY: a document (and its attachments, same blobs) to a new id, or over a given revision', async () => {
    await request(`${u}/copies`, { method: 'PUT' });
    const src = await request(`${u}/copies/src`, { method: 'PUT', body: { x: 1, _attachments: { 't.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } } });
    const copy = (dest?: string, query = '') => request(`${u}/copies/src${query}`, { method: 'COPY', headers: dest === undefined ? {} : { destination: dest } });
    const made = await copy('dst');
    assert.equal(made.status, 201);
    assert.equal(made.body.id, 'dst');
    const got = await request(`${u}/copies/dst`);
    assert.equal(got.body.x, 1);
    assert.equal(got.body._attachments['t.txt'].digest, (await request(`${u}/copies/src`)).body._attachments['t.txt'].digest);
    assert.equal((await request(`${u}/copies/dst/t.txt`)).text, 'hello');
    // Inline data comes in CouchDB's shape: no length beside it (stubs carry one).
    const inline = (await request(`${u}/copies/dst?attachments=true`)).body._attachments['t.txt'];
    assert.equal(inline.data, Buffer.from('hello').toString('base64'));
    assert.equal(inline.length, undefined);
    assert.equal(got.body._attachments['t.txt'].length, 5);
    assert.equal((await copy('dst')).status, 409);
    await request(`${u}/copies/src`, { method: 'PUT', body: { _rev: src.body.rev, x: 2 } });
    const over = await copy(`dst?rev=${made.body.rev}`, `?rev=${src.body.rev}`);
    assert.equal(over.status, 201);
    assert.match(over.body.rev, /^2-/);
    assert.equal((await request(`${u}/copies/dst`)).body.x, 1, 'the copy is of the revision asked for');
    // If-Match names the source revision as ?rev= does; the two must agree.
    const byEtag = await request(`${u}/copies/src`, { method: 'COPY', headers: { destination: 'dst-etag', 'if-match': `"${src.body.rev}"` } });
    assert.equal(byEtag.status, 201, byEtag.text);
    assert.equal((await request(`${u}/copies/dst-etag`)).body.x, 1);
    const disagree = await request(`${u}/copies/src?rev=${src.body.rev}`, { method: 'COPY', headers: { destination: 'dst-no', 'if-match': '"2-' + 'a'.repeat(32) + '"' } });
    assert.equal(disagree.status, 400);
    assert.equal((await request(`${u}/copies/dst-no`)).status, 404);
    assert.equal((await copy()).status, 400);
    const absolute = await copy('http://localhost:5984/copies/elsewhere');
    assert.equal(absolute.status, 400);
    assert.equal(absolute.body.reason, 'Destination URL must be relative.');
    assert.equal((await request(`${u}/copies/nope`, { method: 'COPY', headers: { destination: 'x' } })).status, 404);
    assert.equal((await request(`${u}/copies`)).body.doc_count, 3);
  });

  test('_local_docs lists local documents with _all_docs options, without totals', async () => {
    await request(`${u}/locals`, { method: 'PUT' });
    for (const id of ['c', 'a', 'b']) await request(`${u}/locals/_local/${id}`, { method: 'PUT', body: { n: id } });
    await request(`${u}/locals/_local/b`, { method: 'PUT', body: { _rev: '0-1', n: 'b2' } });
    await request(`${u}/locals/regular`, { method: 'PUT', body: {} });
    const all = await request(`${u}/locals/_local_docs`);
    assert.equal(all.status, 200);
    assert.equal(all.body.total_rows, null);
    assert.equal(all.body.offset, null);
    assert.deepEqual(all.body.rows, [
      { id: '_local/a', key: '_local/a', value: { rev: '0-1' } },
      { id: '_local/b', key: '_local/b', value: { rev: '0-2' } },
      { id: '_local/c', key: '_local/c', value: { rev: '0-1' } },
    ]);
    const some = await request(`${u}/locals/_local_docs?descending=true&limit=2&include_docs=true`);
    assert.deepEqual(some.body.rows.map((r: any) => [r.id, r.doc.n]), [['_local/c', 'c'], ['_local/b', 'b2']]);
    const ranged = await request(`${u}/locals/_local_docs?startkey=%22_local%2Fb%22&endkey=%22_local%2Fc%22&inclusive_end=false`);
    assert.deepEqual(ranged.body.rows.map((r: any) => r.id), ['_local/b']);
    const keyed = await request(`${u}/locals/_local_docs`, { method: 'POST', body: { keys: ['_local/c', '_local/zz'] } });
    assert.deepEqual(keyed.body.rows, [{ id: '_local/c', key: '_local/c', value: { rev: '0-1' } }, { key: '_local/zz', error: 'not_found' }]);
    // The id of a document that is not local names none here: left out, after skip and limit
    // (CouchDB's filter_keys_by_namespace), not answered as missing.
    const others = await request(`${u}/locals/_local_docs`, { method: 'POST', body: { keys: ['plain', '_local/c', '_design/d'] } });
    assert.deepEqual(others.body.rows.map((r: any) => r.key), ['_local/c']);
    const limited = await request(`${u}/locals/_local_docs?limit=1`, { method: 'POST', body: { keys: ['plain', '_local/c'] } });
    assert.deepEqual(limited.body.rows, []);
    assert.equal((await request(`${u}/locals/_local_docs?limit=-1`)).status, 400);
  });

  test('a document PUT is read as JSON whatever its Content-Type (curl -d sends a form type)', async () => {
    await request(`${u}/forms`, { method: 'PUT' });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const put = await request(`${u}/forms/doc1`, { method: 'PUT', raw: '{"title":"from curl"}', headers: form });
    assert.equal(put.status, 201);
    assert.equal((await request(`${u}/forms/doc1`)).body.title, 'from curl');
    const ddoc = await request(`${u}/forms/_design/d`, { method: 'PUT', raw: '{"views":{}}', headers: form });
    assert.equal(ddoc.status, 201);
    // System databases' documents as well (`curl -X PUT .../_replicator/job -d '{...}'`).
    await request(`${u}/_users`, { method: 'PUT' });
    const sys = await request(`${u}/_users/_design/x`, { method: 'PUT', raw: '{"views":{}}', headers: form });
    assert.equal(sys.status, 201, sys.text);
    const bad = await request(`${u}/forms/doc2`, { method: 'PUT', raw: 'title=x', headers: form });
    assert.equal(bad.status, 400);
    assert.ok(isCouchError(bad.body, 'bad_request'));
    // Anywhere else a form is still refused: creating a document by POST needs JSON, as in CouchDB.
    const post = await request(`${u}/forms`, { method: 'POST', raw: '{"a":1}', headers: form });
    assert.equal(post.status, 415);
    assert.equal((await request(`${u}/forms`)).body.doc_count, 2);
    // Database settings too (`curl -X PUT .../db/_security -d '{...}'`), as CouchDB reads them.
    const security = { admins: { names: [], roles: [] }, members: { names: [], roles: ['team'] } };
    const sec = await request(`${u}/forms/_security`, { method: 'PUT', raw: JSON.stringify(security), headers: form });
    assert.equal(sec.status, 200);
    assert.deepEqual((await request(`${u}/forms/_security`)).body, security);
    // `readers` (CouchDB's older name for members) is checked like members (reader_acl.js).
    for (const names of ['joe', ['joe', 22]]) {
      const bad = await request(`${u}/forms/_security`, { method: 'PUT', body: { readers: { names, roles: [] } } });
      assert.equal(bad.status, 400, JSON.stringify(names));
    }
    assert.deepEqual((await request(`${u}/forms/_security`)).body, security);
    assert.equal((await request(`${u}/forms/_revs_limit`, { method: 'PUT', raw: '7', headers: form })).status, 200);
    assert.equal((await request(`${u}/forms/_revs_limit`)).body, 7);
  });

  test('attachments answer single byte ranges (206), with If-Range and 416 as for blobs', async () => {
    await request(`${u}/ranges`, { method: 'PUT' });
    const bytes = new TextEncoder().encode('0123456789abcdef');
    const put = await request(`${u}/ranges/doc/f.bin`, { method: 'PUT', raw: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201);
    const whole = await request(`${u}/ranges/doc/f.bin`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const etag = whole.headers.get('etag')!;
    const part = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, '2345');
    assert.equal(part.headers.get('content-range'), 'bytes 2-5/16');
    assert.equal(part.headers.get('content-length'), '4');
    const tail = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=-3' } });
    assert.equal(tail.text, 'def');
    const stale = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=2-5', 'if-range': '"other"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, '0123456789abcdef');
    const same = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=2-5', 'if-range': etag } });
    assert.equal(same.status, 206);
    const beyond = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=20-' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), 'bytes */16');
    assert.ok(isCouchError(beyond.body, 'requested_range_not_satisfiable'), beyond.text);
    assert.equal((await request(`${u}/ranges/doc/f.bin`, { headers: { 'if-none-match': etag } })).status, 304);
    // A range over every byte (or past the end) is still a 206 with its Content-Range, as CouchDB answers.
    for (const header of ['bytes=0-15', 'bytes=0-16']) {
      const all = await request(`${u}/ranges/doc/f.bin`, { headers: { range: header } });
      assert.equal(all.status, 206, header);
      assert.equal(all.headers.get('content-range'), 'bytes 0-15/16', header);
      assert.equal(all.text, '0123456789abcdef');
    }
    // But CouchDB takes bytes=0- for the whole attachment (200), and a backwards range is a 416.
    const open = await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=0-' } });
    assert.equal(open.status, 200);
    assert.equal(open.headers.get('content-range'), null);
    assert.equal(open.text, '0123456789abcdef');
    assert.equal((await request(`${u}/ranges/doc/f.bin`, { headers: { range: 'bytes=5-3' } })).status, 416);
    // If-None-Match takes weak tags and lists; a 304 says its empty length.
    const weak = await request(`${u}/ranges/doc`, { headers: { 'if-none-match': `W/"${(await request(`${u}/ranges/doc`)).body._rev}"` } });
    assert.equal(weak.status, 304);
    assert.equal(weak.headers.get('content-length'), '0');
  });

  test("CouchDB's headers on every answer: a request id (the client's own when given), body time, must-revalidate", async () => {
    const welcome = await request(`${u}/`);
    assert.match(welcome.headers.get('x-couch-request-id') ?? '', /^[0-9a-f]{10}$/);
    assert.equal(welcome.headers.get('x-couchdb-body-time'), '0');
    assert.equal(welcome.headers.get('cache-control'), 'must-revalidate');
    const mine = await request(`${u}/`, { headers: { 'x-couch-request-id': 'E7498DE1-B661-42FA-943D-17F890143068' } });
    assert.equal(mine.headers.get('x-couch-request-id'), 'E7498DE1-B661-42FA-943D-17F890143068');
    const feed = await fetch(`${u}/ranges/_changes?feed=continuous&timeout=1`);
    assert.match(feed.headers.get('x-couch-request-id') ?? '', /^[0-9a-f]{10}$/);
    await feed.text();
  });

  test('_all_docs reports update_seq when asked, as CouchDB does', async () => {
    await request(`${u}/seqs`, { method: 'PUT' });
    await request(`${u}/seqs/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a' }, { _id: 'b' }] } });
    const plain = await request(`${u}/seqs/_all_docs`);
    assert.equal(plain.body.update_seq, undefined);
    const withSeq = await request(`${u}/seqs/_all_docs?update_seq=true`);
    assert.equal(withSeq.body.update_seq, 2);
    assert.equal(withSeq.body.rows.length, 2);
    // Rows asked by keys have no place in the sequence either: null, as CouchDB answers it.
    const posted = await request(`${u}/seqs/_all_docs?update_seq=true`, { method: 'POST', body: { keys: ['b'] } });
    assert.equal(posted.body.update_seq, null);
  });

  test('view flags in any case (Python sends True), as CouchDB lowercases them, other words a 400; document and _changes flags only as the word true', async () => {
    await request(`${u}/flags`, { method: 'PUT' });
    await request(`${u}/flags/a`, { method: 'PUT', body: { v: 1 } });
    const all = await request(`${u}/flags/_all_docs?include_docs=True&update_seq=TRUE&descending=False`);
    assert.equal(all.status, 200);
    assert.equal(all.body.rows[0].doc.v, 1);
    assert.equal(all.body.update_seq, 1);
    // Not _changes: CouchDB's parse_changes_query takes the exact word `true` and ignores any other.
    const changes = await request(`${u}/flags/_changes?include_docs=True`);
    assert.equal(changes.body.results[0].doc, undefined);
    assert.equal((await request(`${u}/flags/_all_docs?include_docs=yes`)).status, 400);
    // A document's options, as CouchDB's parse_doc_query reads them: the exact word, others ignored.
    assert.equal((await request(`${u}/flags/a?revs=true`)).body._revisions.start, 1);
    for (const flags of ['revs=True', 'revs=1', 'revs=yes&conflicts=1&meta=TRUE']) {
      const doc = await request(`${u}/flags/a?${flags}`);
      assert.deepEqual([doc.status, Object.keys(doc.body).sort()], [200, ['_id', '_rev', 'v']], flags);
    }
    const bulkGet = await request(`${u}/flags/_bulk_get?revs=1`, { method: 'POST', body: { docs: [{ id: 'a' }] } });
    assert.equal(bulkGet.body.results[0].docs[0].ok._revisions, undefined, '_bulk_get reads them so too');
    // new_edits is off for the word false alone: `False` is an interactive edit, judged against the
    // document's revisions (a rev it does not have is a conflict), not a replicated write of that rev.
    for (const word of ['False', '0', 'no']) {
      const put = await request(`${u}/flags/ne-${word}?new_edits=${word}`, { method: 'PUT', body: { _rev: '1-abc' } });
      assert.equal(put.status, 409, `new_edits=${word}: ${put.text}`);
    }
    assert.equal((await request(`${u}/flags/ne-false?new_edits=false`, { method: 'PUT', body: { _rev: '1-abc' } })).status, 201);
    assert.equal((await request(`${u}/flags/ne-false`)).body._rev, '1-abc');
  });

  test('read-only server paths answer other methods 405 with Allow; PUT /db checks q and n; _changes checks seq_interval', async () => {
    for (const path of ['/', '/_up', '/_all_dbs', '/_uuids']) {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const r = await fetch(`${u}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : '{}' });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get('allow'), 'GET,HEAD', `${method} ${path}`);
        assert.deepEqual(await r.json(), { error: 'method_not_allowed', reason: 'Only GET,HEAD allowed' });
      }
    }
    assert.equal((await request(`${u}/_all_dbs`)).body.includes('_all_dbs'), false);
    for (const bad of ['q=abc', 'q=0', 'n=0', 'n=-1', 'q=1.5']) {
      const r = await request(`${u}/shards?${bad}`, { method: 'PUT' });
      assert.equal(r.status, 400, bad);
      assert.match(r.body.reason, /^The `[qn]` value should be a positive integer\.$/);
    }
    assert.equal((await request(`${u}/shards`)).status, 404, 'nothing was created');
    assert.equal((await request(`${u}/shards?q=8&n=3`, { method: 'PUT' })).status, 201);
    // Erlang's list_to_integer takes a sign and leading zeros.
    assert.equal((await request(`${u}/shards2?q=08&n=%2B3`, { method: 'PUT' })).status, 201);
    for (const bad of ['0', 'abc', '-2']) {
      const r = await request(`${u}/shards/_changes?seq_interval=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.deepEqual(r.body, { error: 'bad_request', reason: 'invalid_seq_interval' });
    }
    assert.equal((await request(`${u}/shards/_changes?seq_interval=10`)).status, 200);
  });
});

describe('admin authentication', () => {
  let server: TestServer;
  let u: string;
  const basic = (user: string, pass: string) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') });

  before(async () => {
    server = await startTestServer({ admin: 'admin:secret' });
    u = server.url;
  });
  after(() => server.close());

  test('anonymous requests are refused with a JSON 401; the welcome and _up stay open', async () => {
    assert.equal((await request(`${u}/`)).status, 200);
    assert.equal((await request(`${u}/_up`)).status, 200);
    for (const [method, path] of [
      ['PUT', '/secured'],
      ['GET', '/_all_dbs'],
      ['POST', '/secured/_bulk_docs'],
      ['DELETE', '/secured'],
    ] as const) {
      const r = await request(`${u}${path}`, { method, body: method === 'POST' ? { docs: [] } : undefined });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.ok(isCouchError(r.body, 'unauthorized'));
      // No challenge unless asked for (no browser login box over a web app), as CouchDB.
      assert.equal(r.headers.get('www-authenticate'), null);
    }
    const asked = await request(`${u}/_all_dbs`, { headers: { 'x-couchdb-www-authenticate': 'Basic realm="couch"' } });
    assert.equal(asked.headers.get('www-authenticate'), 'Basic realm="couch"');
    const session = await request(`${u}/_session`);
    assert.equal(session.status, 200);
    assert.equal(session.body.userCtx.name, null);
    // basic=true asks to be challenged: CouchDB's 401 when nobody is logged in.
    const challenge = await request(`${u}/_session?basic=true`);
    assert.deepEqual([challenge.status, challenge.body.reason], [401, 'Please login.']);
    const byBasic = await request(`${u}/_session?basic=true`, { headers: basic('admin', 'secret') });
    assert.equal(byBasic.status, 200);
    assert.equal(byBasic.body.info.authenticated, 'default', 'Basic auth is the default handler');
  });

  test('Basic auth: right password works, wrong one is 401', async () => {
    const created = await request(`${u}/secured`, { method: 'PUT', headers: basic('admin', 'secret') });
    assert.equal(created.status, 201);
    const doc = await request(`${u}/secured/d`, { method: 'PUT', body: { x: 1 }, headers: basic('admin', 'secret') });
    assert.equal(doc.status, 201);
    // Asked after the right password was verified (remembered by its MAC): near misses still fail.
    for (const [user, pass] of [
      ['admin', 'wrong'],
      ['admin', 'secret '],
      ['admin', 'Secret'],
      ['admin', 'secretsecret'],
      ['root', 'secret'],
      ['admin', ''],
      // Same length in characters, not in bytes: must be a 401, not a crash in the comparison.
      ['admiñ', 'secret'],
      ['', ''],
    ]) {
      const r = await request(`${u}/secured/d`, { headers: basic(user!, pass!) });
      assert.equal(r.status, 401, `${user}:${pass}`);
      assert.ok(isCouchError(r.body, 'unauthorized'));
    }
    const garbage = await request(`${u}/secured/d`, { headers: { authorization: 'Basic !!!notbase64' } });
    assert.equal(garbage.status, 401);
    // The scheme name is case-insensitive.
    for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
      const token = Buffer.from('admin:secret').toString('base64');
      assert.equal((await request(`${u}/secured/d`, { headers: { authorization: `${scheme} ${token}` } })).status, 200, scheme);
    }
  });

  test('_session as CouchDB takes it: username or name, 400 without either, 405 to PUT; a malformed cookie is a 400', async () => {
    const byUsername = await request(`${u}/_session`, { method: 'POST', body: { username: 'admin', password: 'secret' } });
    assert.equal(byUsername.status, 200);
    assert.match(byUsername.headers.get('set-cookie') ?? '', /^AuthSession=/);
    const neither = await request(`${u}/_session`, { method: 'POST', body: { password: 'secret' } });
    assert.equal(neither.status, 400);
    assert.equal(neither.body.reason, 'request body must contain a username');
    // Both, naming two people: which one is meant is not guessed.
    const both = await request(`${u}/_session`, { method: 'POST', body: { name: 'bob', username: 'admin', password: 'secret' } });
    assert.deepEqual([both.status, both.body.reason], [400, 'request body contains different usernames']);
    assert.equal((await request(`${u}/_session`, { method: 'POST', body: { name: 'admin', username: 'admin', password: 'secret' } })).status, 200);
    // A log-out with `next` is sent on, as a login with it is.
    const out = await fetch(`${u}/_session?next=/_utils/`, { method: 'DELETE', redirect: 'manual' });
    assert.deepEqual([out.status, new URL(out.headers.get('location') ?? '', u).pathname], [302, '/_utils/']);
    assert.match(out.headers.get('set-cookie') ?? '', /^AuthSession=;/);
    assert.equal((await request(`${u}/_session`, { method: 'PUT', body: {} })).status, 405);
    const malformed = await request(`${u}/_session`, { headers: { cookie: 'AuthSession=garbage' } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.reason, 'Malformed AuthSession cookie. Please clear your cookies.');
  });

  test('POST /_session (JSON and form) sets a cookie that authorizes; DELETE /_session ends it', async () => {
    for (const [label, init] of [
      ['json', { method: 'POST', body: { name: 'admin', password: 'secret' } }],
      [
        'form',
        {
          method: 'POST',
          raw: 'name=admin&password=secret',
          // As nano and curl send it: no Origin, no Referer, so no browser's form.
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      ],
    ] as const) {
      const login = await request(`${u}/_session`, init);
      assert.equal(login.status, 200, label);
      assert.equal(login.body.ok, true);
      assert.equal(login.body.name, 'admin');
      assert.ok(login.body.roles.includes('_admin'));
      const setCookie = login.headers.get('set-cookie') ?? '';
      const m = /^AuthSession=([^;]+);/.exec(setCookie);
      assert.ok(m, setCookie);
      assert.match(setCookie, /HttpOnly/);
      const cookie = `AuthSession=${m![1]}`;
      const authed = await request(`${u}/secured/d`, { headers: { cookie } });
      assert.equal(authed.status, 200, label);
      assert.equal(authed.body.x, 1);
      const who = await request(`${u}/_session`, { headers: { cookie } });
      assert.equal(who.body.userCtx.name, 'admin');
      // A tampered cookie is anonymous.
      const tampered = await request(`${u}/secured/d`, { headers: { cookie: cookie.slice(0, -2) + 'xx' } });
      assert.equal(tampered.status, 401);
      // CouchDB's handlers in their order: a live session wins over wrong Basic credentials.
      const both = await request(`${u}/secured/d`, { headers: { cookie, ...basic('admin', 'wrong') } });
      assert.equal(both.status, 200, label);
    }
    // Basic credentials without a colon, or Futon's `_:_` log-out, are none: the caller is anonymous.
    for (const value of ['nocolon', '_:_']) {
      const who = await request(`${u}/_session`, { headers: { authorization: 'Basic ' + Buffer.from(value).toString('base64') } });
      assert.deepEqual([who.status, who.body.userCtx?.name], [200, null], value);
    }
    assert.equal((await request(`${u}/secured/d`, { headers: basic('admin', 'wrong') })).status, 401);
    // A form from another site's page, which any page may send, neither logs the visitor in as
    // someone else nor out; one from the node's own pages does.
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const from of [{ origin: 'http://evil.example' }, { origin: 'null' }, { referer: 'http://evil.example/login' }] as Array<Record<string, string>>) {
      for (const raw of ['name=admin&password=secret', 'name=admin&password=nope']) {
        const forged = await request(`${u}/_session`, { method: 'POST', raw, headers: { ...form, ...from } });
        assert.equal(forged.status, 403, `${JSON.stringify(from)} ${raw}`);
        assert.equal(forged.headers.get('set-cookie'), null);
      }
    }
    for (const from of [{ origin: u }, { referer: `${u}/_utils/` }] as Array<Record<string, string>>) {
      const own = await request(`${u}/_session`, { method: 'POST', raw: 'name=admin&password=secret', headers: { ...form, ...from } });
      assert.equal(own.status, 200, JSON.stringify(from));
    }
    const wrong = await request(`${u}/_session`, { method: 'POST', body: { name: 'admin', password: 'nope' } });
    assert.equal(wrong.status, 401);
    assert.ok(isCouchError(wrong.body, 'unauthorized'));
    // A failed login ends the session the client had, as CouchDB does.
    assert.match(wrong.headers.get('set-cookie') ?? '', /^AuthSession=;.*Max-Age=0/);
    // next / fail redirect on this server only.
    const next = await fetch(`${u}/_session?next=/secured`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'secret' }) });
    assert.equal(next.status, 302);
    assert.equal(next.headers.get('location'), `${u}/secured`);
    assert.match(next.headers.get('set-cookie') ?? '', /^AuthSession=[^;]+;/);
    const fail = await fetch(`${u}/_session?fail=/bad`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'x' }) });
    assert.equal(fail.status, 302);
    assert.equal(fail.headers.get('location'), `${u}/bad`);
    const offsite = await fetch(`${u}/_session?next=//evil.example/`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'secret' }) });
    assert.equal(offsite.status, 200, 'never a redirect off this server');
    // A line break or a character no header takes is percent-encoded, never a 500 or a split answer.
    for (const [given, location] of [['/%0d%0aSet-Cookie:%20x=1', '/%0D%0ASet-Cookie:%20x=1'], ['/caf%C3%A9%00', '/caf%C3%A9%00']]) {
      const odd = await fetch(`${u}/_session?next=${given}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: 'secret' }) });
      assert.equal(odd.status, 302, given);
      assert.equal(odd.headers.get('location'), `${u}${location}`);
      assert.equal(odd.headers.getSetCookie().length, 1);
    }
    const missingFields = await request(`${u}/_session`, { method: 'POST', body: { name: 'admin' } });
    assert.equal(missingFields.status, 401);
    const logout = await request(`${u}/_session`, { method: 'DELETE' });
    assert.equal(logout.status, 200);
    assert.deepEqual(logout.body, { ok: true });
    assert.match(logout.headers.get('set-cookie') ?? '', /^AuthSession=;.*Max-Age=0/);
  });

  test('listening beyond loopback without an admin is refused before listening', async () => {
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    await assert.rejects(startServer({ node: server.node, host: '0.0.0.0', port: 0 }), (err: unknown) => isRefugeError(err, 'forbidden'));
    await assert.rejects(startServer({ node: server.node, host: '::', port: 0, admin: null }), (err: unknown) => isRefugeError(err, 'forbidden'));
    // A name that merely starts like a loopback address may resolve anywhere.
    await assert.rejects(startServer({ node: server.node, host: '127.example.invalid', port: 0 }), (err: unknown) => isRefugeError(err, 'forbidden'));
    assert.equal(servers(), before);
  });

  test('without an admin, only requests addressed to this machine are answered: a rebound name is refused, nothing changes', async () => {
    const node = await openNode({ engine: 'memory' });
    const srv = await startServer({ node, port: 0 });
    try {
      const { rawRequest } = await import('./raw-http.ts');
      for (const host of [`127.0.0.1:${srv.port}`, `localhost:${srv.port}`, 'app.localhost', '[::1]:6986', '127.1.2.3', 'LOCALHOST', `localhost.:${srv.port}`, '127.0.0.1.', '127.1', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]:80']) {
        const r = await rawRequest(srv.port, { method: 'GET', path: '/', headers: { host } });
        assert.equal(r.status, 200, host);
      }
      for (const host of ['attacker.example', `rebind.attacker.example:${srv.port}`, '127.0.0.1.attacker.example', '[::2]', 'localhost.attacker.example', '[::1]x', '[::ffff:10.0.0.1]', '128.0.0.1', 'a b']) {
        const r = await rawRequest(srv.port, { method: 'PUT', path: '/private', headers: { host } });
        assert.equal(r.status, 403, host);
        assert.equal(JSON.parse(r.text).error, 'forbidden');
      }
      assert.equal(await node.exists('private'), false);
    } finally {
      await srv.close();
      await node.close();
    }
  });

  test('closing answers the requests under way before it cuts their sockets', async () => {
    const node = await openNode({ engine: 'memory' });
    const srv = await startServer({ node, port: 0 });
    await request(`${srv.url}/slow`, { method: 'PUT' });
    // A write whose body is still to come when the server starts to close: its "100 Continue"
    // says the server has the request under way.
    const body = JSON.stringify({ docs: [{ _id: 'a' }, { _id: 'b' }] });
    let closing: Promise<void> | undefined;
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' };
      const req = httpRequest(`${srv.url}/slow/_bulk_docs`, { method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.on('continue', () => {
        closing = srv.close();
        req.end(body);
      });
      req.flushHeaders();
    });
    const { status, text } = await answered;
    await closing;
    await node.close();
    assert.equal(status, 201, text);
    assert.deepEqual(JSON.parse(text).map((r: { id: string }) => r.id), ['a', 'b']);
  });
});
