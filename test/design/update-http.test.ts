// Update functions over HTTP as CouchDB runs them: `[doc, response]` saved with X-Couch-Id and
// X-Couch-Update-NewRev, the request object (raw body, query, form, method, id, userCtx), string,
// json, base64 and header responses, validate_doc_update and conflicts applying to the save, and
// bad functions or answers refused with nothing written. Show/list/rewrite answer 501.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from '../http/raw-http.ts';
import { request, startTestServer, type TestServer } from '../http/server.ts';

const UPDATES = {
  // Creates the doc when missing (id from the path, else req.uuid), else counts up.
  bump: `function (doc, req) {
    if (!doc) return [{ _id: req.id || req.uuid, n: 1 }, { json: { created: true } }];
    doc.n += 1;
    return [doc, { json: { n: doc.n } }];
  }`,
  echo: `function (doc, req) {
    return [null, { json: { method: req.method, body: req.body, query: req.query, form: req.form, id: req.id,
      path: req.path, db: req.info.db_name, user: req.userCtx.db, hasDoc: doc !== null, secObj: req.secObj } }];
  }`,
  html: 'function (doc, req) { return [null, "<b>" + (doc ? doc._id : "none") + "</b>"]; }',
  seen: 'function (doc, req) { return [null, { json: { type: req.headers["Content-Type"], custom: req.headers["X-Custom"], lower: req.headers["x-custom"] === undefined } }]; }',
  headers: 'function (doc, req) { return [null, { code: 202, headers: { "X-Answer": "42", "Content-Type": "text/plain" }, body: "ok" }]; }',
  binary: 'function (doc, req) { return [null, { base64: "AAEC/w==" }]; }',
  setField: 'function (doc, req) { doc.field = req.query.value; return [doc, "set"]; }',
  notArray: 'function (doc, req) { return { no: 1 }; }',
  badDoc: 'function (doc, req) { return ["string", "x"]; }',
  noId: 'function (doc, req) { return [{ x: 1 }, "x"]; }',
  // A 1xx is no final answer: sent, the client would wait for the real one.
  informational: 'function (doc, req) { return [null, { code: 101, body: "x" }]; }',
  badHeader: 'function (doc, req) { return [null, { headers: { "X-Bad": "a\\r\\nSet-Cookie: x=1" }, body: "x" }]; }',
  // Saved first, then refused by Node (a character no header takes): the answer was Fastify's 500.
  wideHeader: 'function (doc, req) { return [{ _id: "wide" }, { headers: { "X-Wide": "\\u0100" }, body: "x" }]; }',
  forbidden: 'function (doc, req) { throw ({ forbidden: "not you" }); }',
  raises: 'function (doc, req) { return [null, undefinedVariable]; }',
  staleRev: 'function (doc, req) { doc._rev = "1-00000000000000000000000000000000"; doc.x = 1; return [doc, "x"]; }',
};

describe('update functions', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    u = `${server.url}/upd`;
    await request(u, { method: 'PUT' });
    const ddoc = await request(`${u}/_design/app`, {
      method: 'PUT',
      body: { updates: UPDATES, validate_doc_update: 'function (n) { if (n.field === "forbidden") throw ({ forbidden: "field may not be forbidden" }); }' },
    });
    assert.equal(ddoc.status, 201);
  });
  after(() => server.close());

  test('PUT with an id creates, then updates; the new rev and id come back in headers', async () => {
    const created = await request(`${u}/_design/app/_update/bump/counter`, { method: 'PUT' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { created: true });
    assert.equal(created.headers.get('x-couch-id'), 'counter');
    const rev1 = created.headers.get('x-couch-update-newrev')!;
    assert.match(rev1, /^1-[0-9a-f]{32}$/);
    const bumped = await request(`${u}/_design/app/_update/bump/counter`, { method: 'POST' });
    assert.equal(bumped.status, 201);
    assert.deepEqual(bumped.body, { n: 2 });
    const doc = (await request(`${u}/counter`)).body;
    assert.equal(doc.n, 2);
    assert.equal(doc._rev, bumped.headers.get('x-couch-update-newrev'));
    // POST without an id: the function names the document (here req.uuid).
    const fresh = await request(`${u}/_design/app/_update/bump`, { method: 'POST' });
    assert.equal(fresh.status, 201);
    assert.match(fresh.headers.get('x-couch-id')!, /^[0-9a-f]{32}$/);
  });

  test('the request object: raw body, method, query, form, id, path, info, userCtx, secObj', async () => {
    const json = await request(`${u}/_design/app/_update/echo/some%2Fid?a=1&b=x`, { method: 'PUT', raw: '{"not":"parsed"}', headers: { 'content-type': 'application/json' } });
    assert.equal(json.status, 200);
    assert.deepEqual(json.body, {
      method: 'PUT', body: '{"not":"parsed"}', query: { a: '1', b: 'x' }, form: {}, id: 'some/id',
      path: ['upd', '_design', 'app', '_update', 'echo', 'some/id'], db: 'upd', user: 'upd', hasDoc: false, secObj: { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } },
    });
    const form = await request(`${u}/_design/app/_update/echo`, { method: 'POST', raw: 'k=v&w=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual([form.body.form, form.body.id, form.body.body], [{ k: 'v', w: '1' }, null, 'k=v&w=1']);
    const binaryBody = await request(`${u}/_design/app/_update/echo`, { method: 'POST', raw: 'plain words', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(binaryBody.body.body, 'plain words');
    const existing = await request(`${u}/_design/app/_update/echo/counter`, { method: 'PUT' });
    assert.equal(existing.body.hasDoc, true);
  });

  test('request headers keep the names the client wrote, as CouchDB hands them over', async () => {
    const port = Number(new URL(u).port);
    const r = await rawRequest(port, { method: 'POST', path: '/upd/_design/app/_update/seen', body: 'x', headers: { 'Content-Type': 'text/plain', 'X-Custom': 'yes' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { type: 'text/plain', custom: 'yes', lower: true });
  });

  test('responses: string (HTML), code and headers, base64', async () => {
    const html = await fetch(`${u}/_design/app/_update/html/counter`, { method: 'PUT' });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type')!, /^text\/html/);
    assert.equal(await html.text(), '<b>counter</b>');
    const headed = await fetch(`${u}/_design/app/_update/headers`, { method: 'POST' });
    assert.equal(headed.status, 202);
    assert.equal(headed.headers.get('x-answer'), '42');
    assert.match(headed.headers.get('content-type')!, /^text\/plain/);
    assert.equal(await headed.text(), 'ok');
    const binary = await fetch(`${u}/_design/app/_update/binary`, { method: 'POST' });
    assert.deepEqual([...new Uint8Array(await binary.arrayBuffer())], [0, 1, 2, 255]);
  });

  test('the save goes through validate_doc_update and revision checks; failures write nothing', async () => {
    const before = (await request(`${u}/counter`)).body;
    const refused = await request(`${u}/_design/app/_update/setField/counter?value=forbidden`, { method: 'PUT' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'forbidden');
    const stale = await request(`${u}/_design/app/_update/staleRev/counter`, { method: 'PUT' });
    assert.equal(stale.status, 409);
    const ok = await request(`${u}/_design/app/_update/setField/counter?value=fine`, { method: 'PUT' });
    assert.equal(ok.status, 201);
    const after = (await request(`${u}/counter`)).body;
    assert.equal(after.field, 'fine');
    assert.equal(Number.parseInt(after._rev, 10), Number.parseInt(before._rev, 10) + 1);
  });

  test('bad functions and answers: clear errors, nothing written', async () => {
    const seq = (await request(u)).body.update_seq;
    const cases: Array<[string, number, string]> = [
      ['notArray', 500, 'render_error'],
      ['badDoc', 500, 'render_error'],
      ['noId', 400, 'illegal_docid'],
      ['badHeader', 500, 'render_error'],
      ['informational', 500, 'render_error'],
      ['wideHeader', 500, 'render_error'],
      ['forbidden', 403, 'forbidden'],
      ['raises', 500, 'sandbox_error'],
      ['missing', 404, 'not_found'],
    ];
    for (const [name, status, error] of cases) {
      const r = await request(`${u}/_design/app/_update/${name}`, { method: 'POST' });
      assert.equal(r.status, status, name);
      assert.equal(r.body.error, error, name);
      assert.equal(typeof r.body.reason, 'string');
    }
    assert.equal((await request(`${server.url}/upd/_design/nope/_update/bump`, { method: 'POST' })).status, 404);
    const get = await request(`${u}/_design/app/_update/bump`);
    assert.equal(get.status, 405);
    assert.equal(get.body.error, 'method_not_allowed');
    assert.equal((await request(u)).body.update_seq, seq);
  });

  test('paths: PUT without an id, ids with slashes, no function named', async () => {
    const noId = await request(`${u}/_design/app/_update/echo`, { method: 'PUT' });
    assert.equal(noId.status, 200);
    assert.equal(noId.body.id, null);
    const slashed = await request(`${u}/_design/app/_update/echo/with/slash`, { method: 'PUT' });
    assert.equal(slashed.body.id, 'with/slash');
    const encoded = await request(`${u}/_design/app/_update/echo/with%2Fslash`, { method: 'POST' });
    assert.equal(encoded.body.id, 'with/slash');
    const bumpSlashed = await request(`${u}/_design/app/_update/bump/a/b`, { method: 'PUT' });
    assert.equal(bumpSlashed.status, 201);
    assert.equal((await request(`${u}/a%2Fb`)).body.n, 1);
    for (const path of ['_update', '_update/']) {
      const none = await request(`${u}/_design/app/${path}`, { method: 'POST' });
      assert.deepEqual([none.status, none.body.reason], [404, 'Invalid path.'], path);
    }
    // The design document gained no attachment named after the path.
    assert.equal((await request(`${u}/_design/app`)).body._attachments, undefined);
    const empty = await request(`${u}/_design/app/_update/noId`, { method: 'POST' });
    assert.equal(empty.body.reason, 'Document id must not be empty');
  });

  test('show, list and rewrite functions answer 501, not an attachment lookup', async () => {
    for (const path of ['_show/s/counter', '_show/s', '_list/l/v', '_rewrite/a/b']) {
      const r = await request(`${u}/_design/app/${path}`);
      assert.equal(r.status, 501, path);
      assert.equal(r.body.error, 'not_implemented');
    }
  });
});

test('update functions need the admin when one is configured', async () => {
  const server = await startTestServer({ admin: 'admin:secret' });
  const auth = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  try {
    await request(`${server.url}/a`, { method: 'PUT', headers: auth });
    await request(`${server.url}/a/_design/d`, { method: 'PUT', headers: auth, body: { updates: { make: 'function (doc, req) { return [{ _id: "made" }, "ok"]; }' } } });
    const anonymous = await request(`${server.url}/a/_design/d/_update/make`, { method: 'POST' });
    assert.equal(anonymous.status, 401);
    const admin = await request(`${server.url}/a/_design/d/_update/make`, { method: 'POST', headers: auth });
    assert.equal(admin.status, 201);
  } finally {
    await server.close();
  }
});
