// User accounts as CouchDB keeps them in `_users`: anyone signs up (no roles), a user logs in by
// Basic auth or a session cookie, reads and writes the databases whose `_security` names them or a
// role of theirs, edits their own document but not its roles, and reaches nothing server-wide.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { rawRequest } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';
import { feedText } from '../helpers/feed-text.ts';

/** Accounts here take 1,000 PBKDF2 iterations, not the default 600,000 (~0.3 s of CPU each). */
const ITERATIONS = 1000;

const basic = (name: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${name}:${password}`).toString('base64') });
const ADMIN = basic('admin', 'secret');
const userDoc = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'user', roles: [], ...extra });

describe('_users accounts and _security', () => {
  let server: TestServer;
  let u: string;
  const as = (headers: Record<string, string>) => (path: string, init: { method?: string; body?: unknown } = {}) =>
    request(`${u}${path}`, { ...init, headers });

  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: ITERATIONS });
    u = server.url;
    const admin = as(ADMIN);
    for (const db of ['_users', 'team', 'private']) assert.equal((await admin(`/${db}`, { method: 'PUT' })).status, 201);
    await admin('/team/_security', { method: 'PUT', body: { members: { names: ['bob'], roles: [] } } });
  });
  after(() => server.close());

  test('anyone signs up, without roles and without overwriting an account; the password is not kept', async () => {
    const anon = as({});
    const signup = await anon('/_users/org.couchdb.user:bob', { method: 'PUT', body: userDoc('bob', { password: 'pw' }) });
    assert.equal(signup.status, 201, signup.text);
    assert.equal((await anon('/_users/org.couchdb.user:eve', { method: 'PUT', body: userDoc('eve', { roles: ['boss'], password: 'x' }) })).status, 403);
    assert.equal((await anon('/_users/org.couchdb.user:bob', { method: 'PUT', body: { ...userDoc('bob', { password: 'mine' }), _rev: signup.body.rev } })).status, 409);
    assert.equal((await anon('/_users/org.couchdb.user:bob')).status, 401);
    // A logged-in user signs someone up too, as in CouchDB: a new account without roles, never an existing one.
    const bob = as(basic('bob', 'pw'));
    assert.equal((await bob('/_users/org.couchdb.user:newbie', { method: 'PUT', body: userDoc('newbie', { password: 'n' }) })).status, 201);
    assert.equal((await bob('/_users/org.couchdb.user:newbie2', { method: 'PUT', body: userDoc('newbie2', { roles: ['boss'], password: 'n' }) })).status, 403);
    const newbie = (await as(ADMIN)('/_users/org.couchdb.user:newbie')).body;
    assert.equal((await bob('/_users/org.couchdb.user:newbie', { method: 'PUT', body: { ...userDoc('newbie', { password: 'taken' }), _rev: newbie._rev } })).status, 409);
    assert.equal((await bob(`/_users/org.couchdb.user:newbie?rev=${newbie._rev}`, { method: 'DELETE' })).status, 403);
    // A password that is no string would be stored as it came (no hash is made of it): refused.
    for (const password of [12345678, ['pw'], { p: 1 }, true]) {
      for (const who of [anon, as(ADMIN)]) {
        const odd = await who('/_users/org.couchdb.user:odd', { method: 'PUT', body: userDoc('odd', { password }) });
        assert.equal(odd.status, 403, `password ${JSON.stringify(password)}: ${odd.text}`);
        assert.equal(odd.body.reason, 'doc.password must be a string');
      }
    }
    assert.equal((await as(ADMIN)('/_users/org.couchdb.user:odd')).status, 404);
    const stored = (await as(ADMIN)('/_users/org.couchdb.user:bob')).body;
    assert.equal(stored.password, undefined);
    assert.equal(stored.password_scheme, 'pbkdf2');
    assert.equal(stored.iterations, ITERATIONS, "the node's passwordIterations");
  });

  test('a user reaches the databases that name them, their own document, and nothing else', async () => {
    const bob = as(basic('bob', 'pw'));
    assert.equal((await bob('/team')).status, 200);
    assert.equal((await bob('/team/note', { method: 'PUT', body: { by: 'bob' } })).status, 201);
    assert.equal((await bob('/team/_all_docs')).body.rows.length, 1);
    for (const [method, path, status] of [
      ['GET', '/private', 403],
      ['PUT', '/private/x', 403],
      // Server-wide routes answer 401 to a user, as CouchDB's verify_is_server_admin does.
      ['GET', '/_all_dbs', 401],
      ['PUT', '/newdb', 401],
      ['PUT', '/team/_security', 401],
      ['POST', '/_users', 403],
      ['GET', '/_users/org.couchdb.user:admin', 403],
      ['GET', '/_active_tasks', 401],
    ] as const) {
      const r = await bob(path, { method, ...(method !== 'GET' && { body: {} }) });
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
    }
    // Anonymous callers get 401 in CouchDB's words: the database's check, or the server's.
    for (const [path, reason] of [
      ['/private', 'You are not authorized to access this db.'],
      ['/private/x', 'You are not authorized to access this db.'],
      ['/private/_all_docs', 'You are not authorized to access this db.'],
      ['/_all_dbs', 'You are not a server admin.'],
    ] as const) {
      const r = await as({})(path);
      assert.deepEqual([r.status, r.body], [401, { error: 'unauthorized', reason }], path);
    }
    // What CouchDB lets anyone ask: uuids too.
    assert.equal((await as({})('/_uuids?count=2')).body.uuids.length, 2);
    // Design documents are the admin's.
    assert.notEqual((await bob('/team/_design/d', { method: 'PUT', body: { views: {} } })).status, 201);
    assert.equal((await as(basic('bob', 'wrong'))('/team')).status, 401);
    assert.equal((await bob('/_users/org.couchdb.user:bob')).status, 200);
  });

  test('the paths checked are the paths routed: a raw # is refused, not read as the end of the path', async () => {
    const port = Number(new URL(u).port);
    const forged = JSON.stringify({ _id: 'org.couchdb.user:bob', _rev: '99-0123456789abcdef0123456789abcdef', name: 'bob#&new_edits=false', type: 'user', roles: [], password: 'pwned' });
    const r = await rawRequest(port, { method: 'PUT', path: '/_users/org.couchdb.user:bob#&new_edits=false', body: forged });
    assert.equal(r.status, 400, r.text);
    assert.equal((await as(basic('bob', 'pwned'))('/team')).status, 401);
    assert.equal((await as(basic('bob', 'pw'))('/team')).status, 200);
  });

  test('attachments are written as their writer: validation and the design-document rule hold for them', async () => {
    const admin = as(ADMIN);
    const bob = as(basic('bob', 'pw'));
    await admin('/guarded', { method: 'PUT' });
    await admin('/guarded/_security', { method: 'PUT', body: { members: { names: ['bob'], roles: [] } } });
    await admin('/guarded/_design/ro', { method: 'PUT', body: { validate_doc_update: 'function (n, o, u) { if (u.roles.indexOf("_admin") === -1) throw({forbidden: "members may not write"}); }' } });
    const put = (path: string) => request(`${u}${path}`, { method: 'PUT', raw: 'hello', headers: { ...basic('bob', 'pw'), 'content-type': 'text/plain' } });
    assert.equal((await put('/guarded/d2/a.txt')).status, 403);
    assert.notEqual((await put('/guarded/_design/evil/a.txt')).status, 201);
    assert.equal((await bob('/guarded/_design/evil')).status, 404);
    assert.equal((await admin('/guarded/d3/a.txt', { method: 'PUT', body: 'x' })).status, 201, 'the admin passes');
  });

  test("a database's admins (by name or role) keep it: _security, design documents, compaction, revs limit, purge, _sync_shards; its members do not", async () => {
    const admin = as(ADMIN);
    const anon = as({});
    for (const name of ['dana', 'erin', 'carl']) {
      assert.equal((await anon(`/_users/org.couchdb.user:${name}`, { method: 'PUT', body: userDoc(name, { password: 'pw' }) })).status, 201);
    }
    const erinDoc = (await admin('/_users/org.couchdb.user:erin')).body;
    assert.equal((await admin('/_users/org.couchdb.user:erin', { method: 'PUT', body: { ...erinDoc, roles: ['keepers'] } })).status, 201);
    await admin('/shop', { method: 'PUT' });
    await admin('/other', { method: 'PUT' });
    const sec = { admins: { names: ['dana'], roles: ['keepers'] }, members: { names: ['carl'], roles: [] } };
    assert.equal((await admin('/shop/_security', { method: 'PUT', body: sec })).status, 200);
    const tried = async (who: ReturnType<typeof as>) => [
      (await who('/shop/_design/app', { method: 'PUT', body: { views: { all: { map: 'function (d) { emit(d._id); }' } } } })).status,
      (await who('/shop/_compact', { method: 'POST', body: {} })).status,
      (await who('/shop/_revs_limit', { method: 'PUT', body: 50 })).status,
      (await who('/shop/_security', { method: 'PUT', body: sec })).status,
      (await who('/shop/_purge', { method: 'POST', body: {} })).status,
      (await who('/shop/_sync_shards', { method: 'POST', body: {} })).status,
    ];
    // A member reads and writes documents, and keeps nothing.
    const carl = as(basic('carl', 'pw'));
    assert.equal((await carl('/shop/item', { method: 'PUT', body: { n: 1 } })).status, 201);
    assert.deepEqual(await tried(carl), [401, 401, 401, 401, 401, 401]);
    // Spelled with escapes, a path is still the one the router takes.
    for (const [method, path] of [['PUT', '/shop/%5Frevs_limit'], ['PUT', '/shop/_revs%5Flimit'], ['POST', '/shop/%5Fcompact'], ['POST', '/shop/%5fview_cleanup'], ['POST', '/shop/%5Fcompact/app']] as const) {
      assert.equal((await carl(path, { method, body: method === 'PUT' ? 2 : {} })).status, 401, path);
    }
    assert.equal((await admin('/shop/_revs_limit')).body, 1000);
    // An admin by name: everything; then the design document is there to delete.
    assert.deepEqual(await tried(as(basic('dana', 'pw'))), [201, 202, 200, 200, 201, 202]);
    const app = (await as(basic('dana', 'pw'))('/shop/_design/app')).body;
    assert.equal((await as(basic('dana', 'pw'))(`/shop/_design/app?rev=${app._rev}`, { method: 'DELETE' })).status, 200);
    // An admin by role: the same, and a database admin reads and writes documents too.
    const erin = as(basic('erin', 'pw'));
    assert.deepEqual(await tried(erin), [201, 202, 200, 200, 201, 202]);
    assert.equal((await erin('/shop/item')).status, 200);
    // Admin of one database, nothing of another, nor of the server.
    assert.equal((await as(basic('dana', 'pw'))('/other/_security', { method: 'PUT', body: sec })).status, 403);
    assert.equal((await as(basic('dana', 'pw'))('/other/_compact', { method: 'POST', body: {} })).status, 403);
    assert.equal((await as(basic('dana', 'pw'))('/shop', { method: 'DELETE' })).status, 401);
  });

  test('a user replicates between the databases they use, as themselves: validation holds, no design documents, no new databases here', async () => {
    const admin = as(ADMIN);
    assert.equal((await as({})('/_users/org.couchdb.user:finn', { method: 'PUT', body: userDoc('finn', { password: 'pw' }) })).status, 201);
    for (const db of ['src1', 'dst1', 'dst2', 'closed1']) assert.equal((await admin(`/${db}`, { method: 'PUT' })).status, 201);
    for (const db of ['src1', 'dst1', 'dst2']) await admin(`/${db}/_security`, { method: 'PUT', body: { members: { names: ['finn'], roles: [] } } });
    await admin('/dst1/_design/guard', { method: 'PUT', body: { validate_doc_update: 'function (n, o, u) { if (n.bad && u.roles.indexOf("_admin") === -1) throw({forbidden: "no bad docs from users"}); }' } });
    await admin('/src1/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'a' }, { _id: 'b', bad: true }, { _id: '_design/x', filters: { mine: 'function (doc, req) { return req.userCtx.name === "finn" && doc._id === "a"; }' } }] } });
    const finn = as(basic('finn', 'pw'));
    const rep = await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: 'dst1' } });
    assert.equal(rep.status, 200, rep.text);
    assert.deepEqual([rep.body.docs_written, rep.body.doc_write_failures], [1, 2], 'the validation and the design-document rule refused two');
    assert.equal((await admin('/dst1/a')).status, 200);
    assert.equal((await admin('/dst1/b')).status, 404);
    assert.equal((await admin('/dst1/_design/x')).status, 404);
    // Its filters see the user as req.userCtx.
    const filtered = await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: 'dst2', filter: 'x/mine' } });
    assert.deepEqual([filtered.status, filtered.body.docs_written], [200, 1], filtered.text);
    // Only databases that name them, never one made for them, never as anyone.
    assert.equal((await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: 'closed1' } })).status, 403);
    assert.equal((await finn('/_replicate', { method: 'POST', body: { source: 'closed1', target: 'dst1' } })).status, 403);
    assert.equal((await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: 'fresh1', create_target: true } })).status, 401);
    assert.equal((await admin('/fresh1')).status, 404);
    // A remote target is created there, with the credentials given for it, which its server judges
    // (CouchDB's): the admin's create it, finn's own are refused by it.
    const remote = (who: string, db: string) => `${u.replace('http://', `http://${who}@`)}/${db}`;
    const made = await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: remote('admin:secret', 'fresh2'), create_target: true } });
    assert.equal(made.status, 200, made.text);
    assert.equal((await admin('/fresh2')).status, 200);
    const refused = await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: remote('finn:pw', 'fresh3'), create_target: true } });
    assert.notEqual(refused.status, 200, refused.text);
    assert.equal((await admin('/fresh3')).status, 404);
    assert.equal((await as({})('/_replicate', { method: 'POST', body: { source: 'src1', target: 'dst1' } })).status, 401);
    // Never into or out of a system database, even one whose _security names them: their own
    // rules (the roles and keys of accounts, who runs a job) hold for direct writes only.
    for (const system of ['_users', '_replicator']) {
      if (system === '_replicator') await admin('/_replicator', { method: 'PUT' });
      await admin(`/${system}/_security`, { method: 'PUT', body: { members: { names: ['finn'], roles: [] } } });
      assert.equal((await finn('/_replicate', { method: 'POST', body: { source: 'src1', target: system } })).status, 403, system);
      assert.equal((await finn('/_replicate', { method: 'POST', body: { source: system, target: 'dst1' } })).status, 403, system);
      await admin(`/${system}/_security`, { method: 'PUT', body: {} });
    }
    // A continuous job is its user's: another user cannot cancel it.
    const spec = { source: 'src1', target: 'dst1', continuous: true };
    assert.equal((await finn('/_replicate', { method: 'POST', body: spec })).status, 202);
    // The admin's _active_tasks names whose it is, as CouchDB's does.
    const tasks = (await admin('/_active_tasks')).body as Array<{ type: string; user: unknown }>;
    assert.deepEqual(tasks.filter((task) => task.type === 'replication').map((task) => task.user), ['finn']);
    const scheduled = (await admin('/_scheduler/jobs')).body as { jobs: Array<{ user: unknown }> };
    assert.deepEqual(scheduled.jobs.map((job) => job.user), ['finn'], '_scheduler/jobs names them too');
    assert.equal((await as(basic('carl', 'pw'))('/_replicate', { method: 'POST', body: { ...spec, cancel: true } })).status, 404);
    assert.equal((await finn('/_replicate', { method: 'POST', body: { ...spec, cancel: true } })).status, 200);
  });

  test('a user does not choose their key derivation; a session ends when the password changes', async () => {
    const anon = as({});
    const chosen = { ...userDoc('slow'), password_scheme: 'pbkdf2', pbkdf2_prf: 'sha', iterations: 10_000_000, salt: '00', derived_key: '00' };
    assert.equal((await anon('/_users/org.couchdb.user:slow', { method: 'PUT', body: chosen })).status, 403);
    assert.equal((await anon('/_users/org.couchdb.user:carol', { method: 'PUT', body: userDoc('carol', { password: 'c1' }) })).status, 201);
    const login = await request(`${u}/_session`, { method: 'POST', body: { name: 'carol', password: 'c1' } });
    const cookie = { cookie: login.headers.get('set-cookie')!.split(';', 1)[0]! };
    assert.deepEqual((await as(cookie)('/_session')).body.userCtx, { name: 'carol', roles: [] });
    const mine = (await as(cookie)('/_users/org.couchdb.user:carol')).body;
    assert.equal((await as(cookie)('/_users/org.couchdb.user:carol', { method: 'PUT', body: { ...mine, password: 'c2' } })).status, 201);
    assert.deepEqual((await as(cookie)('/_session')).body.userCtx, { name: null, roles: [] }, 'the old session is over');
  });

  test('a session in use is renewed past half its life, so an active user is not logged out', async (t) => {
    assert.equal((await as({})('/_users/org.couchdb.user:dave', { method: 'PUT', body: userDoc('dave', { password: 'd1' }) })).status, 201);
    const login = await request(`${u}/_session`, { method: 'POST', body: { name: 'dave', password: 'd1' } });
    const first = { cookie: login.headers.get('set-cookie')!.split(';', 1)[0]! };
    const start = Date.now();
    assert.equal((await as(first)('/_session')).headers.get('set-cookie'), null, 'fresh: not renewed');
    t.mock.timers.enable({ apis: ['Date'], now: start + 6 * 60_000 });
    const used = await as(first)('/_session');
    assert.deepEqual(used.body.userCtx, { name: 'dave', roles: [] });
    const renewed = { cookie: used.headers.get('set-cookie')!.split(';', 1)[0]! };
    t.mock.timers.setTime(start + 11 * 60_000);
    assert.deepEqual((await as(first)('/_session')).body.userCtx, { name: null, roles: [] }, 'the first cookie expired');
    assert.deepEqual((await as(renewed)('/_session')).body.userCtx, { name: 'dave', roles: [] });
  });

  test("an account made by CouchDB before 3.4 (PBKDF2-SHA-1, 10 iterations), replicated in, logs in", async () => {
    const salt = 'c0ffeec0ffeec0ffeec0ffeec0ffee00';
    const derived = pbkdf2Sync('old-pw', Buffer.from(salt, 'utf8'), 10, 20, 'sha1').toString('hex');
    const doc = { ...userDoc('old'), _id: 'org.couchdb.user:old', _rev: '1-abc', password_scheme: 'pbkdf2', iterations: 10, salt, derived_key: derived };
    assert.equal((await as(ADMIN)('/_users/_bulk_docs', { method: 'POST', body: { docs: [doc], new_edits: false } })).status, 201);
    await as(ADMIN)('/team/_security', { method: 'PUT', body: { members: { names: ['bob', 'old'], roles: [] } } });
    assert.equal((await as(basic('old', 'old-pw'))('/team')).status, 200);
    assert.equal((await as(basic('old', 'other'))('/team')).status, 401);
  });

  test('a user changes their password but not their roles; roles granted by the admin open databases', async () => {
    const admin = as(ADMIN);
    const mine = (await as(basic('bob', 'pw'))('/_users/org.couchdb.user:bob')).body;
    const raise = await as(basic('bob', 'pw'))('/_users/org.couchdb.user:bob', { method: 'PUT', body: { ...mine, roles: ['editors'] } });
    assert.equal(raise.status, 403);
    const changed = await as(basic('bob', 'pw'))('/_users/org.couchdb.user:bob', { method: 'PUT', body: { ...mine, password: 'pw2' } });
    assert.equal(changed.status, 201, changed.text);
    assert.equal((await as(basic('bob', 'pw'))('/team')).status, 401);
    assert.equal((await as(basic('bob', 'pw2'))('/team')).status, 200);

    // A cookie session; roles are read at each request, so the admin's grant applies at once.
    const login = await request(`${u}/_session`, { method: 'POST', body: { name: 'bob', password: 'pw2' } });
    assert.deepEqual([login.status, login.body], [200, { ok: true, name: 'bob', roles: [] }]);
    const cookie = { cookie: login.headers.get('set-cookie')!.split(';', 1)[0]! };
    assert.deepEqual((await as(cookie)('/_session')).body.userCtx, { name: 'bob', roles: [] });
    assert.equal((await as(cookie)('/private')).status, 403);
    const current = (await admin('/_users/org.couchdb.user:bob')).body;
    assert.equal((await admin('/_users/org.couchdb.user:bob', { method: 'PUT', body: { ...current, roles: ['editors'] } })).status, 201);
    await admin('/private/_security', { method: 'PUT', body: { members: { names: [], roles: ['editors'] } } });
    assert.equal((await as(cookie)('/private')).status, 200);
    assert.deepEqual((await as(cookie)('/_session')).body.userCtx, { name: 'bob', roles: ['editors'] });
    // A deleted account's session is over.
    const last = (await admin('/_users/org.couchdb.user:bob')).body;
    await admin(`/_users/org.couchdb.user:bob?rev=${last._rev}`, { method: 'DELETE' });
    assert.equal((await as(cookie)('/private')).status, 401);
  });

  test('a user plants no revision beside their account, and edits or deletes it only while it has none: a revoked role or a deleted account stays so', async () => {
    const admin = as(ADMIN);
    await admin('/_users/org.couchdb.user:quinn', { method: 'PUT', body: userDoc('quinn', { roles: ['editor'], password: 'pwq' }) });
    const quinn = as(basic('quinn', 'pwq'));
    const mine = (await quinn('/_users/org.couchdb.user:quinn')).body;
    // A branch of her document as it is (with the role), written as a replicated revision.
    const planted = { ...mine, _rev: '900-aaaa', _revisions: { start: 900, ids: ['aaaa'] } };
    const plant = await quinn('/_users/org.couchdb.user:quinn?new_edits=false', { method: 'PUT', body: planted });
    assert.equal(plant.status, 403, plant.text);
    assert.match(plant.body.reason, /new_edits=false/);
    // Said twice, the parameter counts by its last value, for the check as for the write.
    const twice = await quinn('/_users/org.couchdb.user:quinn?new_edits=true&new_edits=false', { method: 'PUT', body: planted });
    assert.equal(twice.status, 403, twice.text);
    // A branch the admin's replication brought in: quinn can no longer change or delete her
    // document (deleting the winner would make the branch her account), the admin can.
    const branch = await admin('/_users/org.couchdb.user:quinn?new_edits=false', { method: 'PUT', body: planted });
    assert.equal(branch.status, 201, branch.text);
    const now = (await admin('/_users/org.couchdb.user:quinn?conflicts=true')).body;
    assert.equal(now._rev, '900-aaaa');
    const del = await quinn(`/_users/org.couchdb.user:quinn?rev=900-aaaa`, { method: 'DELETE' });
    assert.equal(del.status, 403, del.text);
    assert.match(del.body.reason, /conflicting revisions/);
    const edit = await quinn('/_users/org.couchdb.user:quinn', { method: 'PUT', body: { ...now, _conflicts: undefined, password: 'new' } });
    assert.equal(edit.status, 403, edit.text);
    // Resolved by the admin (the branch removed), she edits it again.
    assert.equal((await admin(`/_users/org.couchdb.user:quinn?rev=${mine._rev}`, { method: 'DELETE' })).status, 200);
    const after = await quinn('/_users/org.couchdb.user:quinn', { method: 'PUT', body: { ...now, _conflicts: undefined, password: 'new' } });
    assert.equal(after.status, 201, after.text);
  });

  test("every _users document keeps CouchDB's rules, the admin's and replicated ones too; design documents are the admin's own", async () => {
    const admin = as(ADMIN);
    const bad: Array<[string, Record<string, unknown>, string]> = [
      ['carl', { name: 'carl', roles: [] }, 'doc.type must be user'],
      ['carl', { name: 'carl', type: 'user' }, 'doc.roles must exist'],
      ['carl', { name: 'carl', type: 'user', roles: 'x' }, 'doc.roles must be an array'],
      ['carl', { name: 'carl', type: 'user', roles: [1] }, 'doc.roles can only contain strings'],
      ['carl', { name: 'karl', type: 'user', roles: [] }, 'Doc ID must be of the form org.couchdb.user:name'],
      ['carl', { type: 'user', roles: [] }, 'doc.name is required'],
      ['carl', userDoc('carl', { roles: ['_admin'] }), 'No system roles (starting with underscore) in users db.'],
      ['_carl', userDoc('_carl'), 'Username may not start with underscore.'],
      ['a:b', userDoc('a:b'), 'Character `:` is not allowed in usernames.'],
    ];
    for (const [name, body, reason] of bad) {
      const r = await admin(`/_users/${encodeURIComponent(`org.couchdb.user:${name}`)}`, { method: 'PUT', body });
      assert.equal(r.status, 403, `${reason}: ${r.text}`);
      assert.deepEqual(r.body, { error: 'forbidden', reason });
    }
    assert.equal((await admin('/_users/other', { method: 'PUT', body: { a: 1 } })).status, 403);
    // In a bulk write each is judged alone; a replicated (new_edits=false) one as well.
    const bulk = await admin('/_users/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'org.couchdb.user:dora', ...userDoc('dora') }, { _id: 'junk', x: 1 }] } });
    assert.deepEqual(bulk.body.map((r: { error?: string; ok?: boolean }) => r.error ?? r.ok), [true, 'forbidden']);
    const replicated = await admin('/_users/_bulk_docs', { method: 'POST', body: { new_edits: false, docs: [{ _id: 'junk2', _rev: '1-abc', x: 1 }] } });
    assert.equal(replicated.body[0]?.error, 'forbidden', replicated.text);
    assert.equal((await admin('/_users/junk2')).status, 404);
    // A name is kept while the account lives; a deleted account's name may be taken again.
    const dora = (await admin('/_users/org.couchdb.user:dora')).body;
    assert.equal((await admin('/_users/org.couchdb.user:dora', { method: 'PUT', body: { ...dora, name: 'dory' } })).status, 403);
    const gone = await admin(`/_users/org.couchdb.user:dora?rev=${dora._rev}`, { method: 'DELETE' });
    assert.equal(gone.status, 200, gone.text);
    assert.equal((await admin('/_users/org.couchdb.user:dora', { method: 'PUT', body: userDoc('dora') })).status, 201);
    assert.equal((await admin('/_users/_design/extra', { method: 'PUT', body: { views: {} } })).status, 201);
    // A copy is a write like any: a password it carries is hashed, never kept in clear.
    assert.equal((await admin('/_users/_design/tpl', { method: 'PUT', body: userDoc('cleo', { password: 'clear' }) })).status, 201);
    const copied = await request(`${u}/_users/_design/tpl`, { method: 'COPY', headers: { ...ADMIN, destination: 'org.couchdb.user:cleo' } });
    assert.equal(copied.status, 201, copied.text);
    const cleo = (await admin('/_users/org.couchdb.user:cleo')).body;
    assert.equal(cleo.password, undefined);
    assert.equal(cleo.password_scheme, 'pbkdf2');
  });
});

describe('replications a user runs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: ITERATIONS, maxJobsPerUser: 2 });
  });
  after(() => server.close());

  test('a user runs a bounded number at once; a cancelled one frees its place; the admin is not bounded', async () => {
    const at = (headers: Record<string, string>) => (path: string, init: { method?: string; body?: unknown } = {}) =>
      request(`${server.url}${path}`, { ...init, headers });
    const admin = at(ADMIN);
    await admin('/_users', { method: 'PUT' });
    assert.equal((await at({})('/_users/org.couchdb.user:gil', { method: 'PUT', body: userDoc('gil', { password: 'pw' }) })).status, 201);
    for (const db of ['s', 't']) {
      await admin(`/${db}`, { method: 'PUT' });
      await admin(`/${db}/_security`, { method: 'PUT', body: { members: { names: ['gil'], roles: [] } } });
    }
    const gil = at(basic('gil', 'pw'));
    const job = (i: number) => ({ source: 's', target: 't', continuous: true, doc_ids: [`d${i}`] });
    // Two at once, asked together: the bound holds while they start.
    const started = await Promise.all([gil('/_replicate', { method: 'POST', body: job(1) }), gil('/_replicate', { method: 'POST', body: job(2) }), gil('/_replicate', { method: 'POST', body: job(3) })]);
    assert.deepEqual(started.map((r) => r.status).sort(), [202, 202, 403]);
    const refused = started.find((r) => r.status === 403)!;
    assert.equal(refused.body.error, 'forbidden');
    assert.match(refused.body.reason, /most a user may run/);
    // Asking again for one that runs is no new job.
    const running = started.map((r, i) => (r.status === 202 ? i + 1 : 0)).filter(Boolean);
    assert.equal((await gil('/_replicate', { method: 'POST', body: job(running[0]!) })).status, 202);
    assert.equal((await gil('/_replicate', { method: 'POST', body: { ...job(running[0]!), cancel: true } })).status, 200);
    assert.equal((await gil('/_replicate', { method: 'POST', body: job(9) })).status, 202);
    for (let i = 10; i < 13; i++) assert.equal((await admin('/_replicate', { method: 'POST', body: job(i) })).status, 202);
    for (const i of [running[1]!, 9]) await gil('/_replicate', { method: 'POST', body: { ...job(i), cancel: true } });
    for (let i = 10; i < 13; i++) await admin('/_replicate', { method: 'POST', body: { ...job(i), cancel: true } });
  });
});

describe('feeds a user keeps open', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: ITERATIONS });
  });
  after(() => server.close());

  test('end once the user loses the database (or the account), before any later change is sent: continuous, longpoll and WebSocket', async () => {
    const at = (headers: Record<string, string>) => (path: string, init: { method?: string; body?: unknown } = {}) =>
      request(`${server.url}${path}`, { ...init, headers });
    const admin = at(ADMIN);
    await admin('/_users', { method: 'PUT' });
    await admin('/_users/org.couchdb.user:fay', { method: 'PUT', body: userDoc('fay', { password: 'pw' }) });
    await admin('/shared', { method: 'PUT' });
    await admin('/shared/_security', { method: 'PUT', body: { members: { names: ['fay'], roles: [] } } });
    const fay = basic('fay', 'pw');
    // Three feeds, each shown to be live with a first change.
    const continuous = await fetch(`${server.url}/shared/_changes?feed=continuous&since=now&include_docs=true`, { headers: fay });
    assert.equal(continuous.status, 200);
    const feed = feedText(continuous);
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/shared/_changes?feed=websocket&since=now&include_docs=true`, { headers: fay });
    const wsMessages: string[] = [];
    ws.on('message', (m) => wsMessages.push(String(m)));
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    await admin('/shared/before', { method: 'PUT', body: { secret: 'old' } });
    assert.ok(await feed.until('"before"'));
    for (let i = 0; i < 1000 && wsMessages.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(wsMessages.length, 1);
    // Its headers come once it waits for a change (see streamLongpoll).
    const longpoll = await fetch(`${server.url}/shared/_changes?feed=longpoll&since=now&include_docs=true`, { headers: fay });
    assert.equal(longpoll.status, 200);
    // The admin takes the database away from her, then writes.
    await admin('/shared/_security', { method: 'PUT', body: { members: { names: ['someone-else'], roles: [] } } });
    await admin('/shared/after', { method: 'PUT', body: { secret: 'new' } });
    assert.equal(await feed.until('"after"'), false, 'the continuous feed ends without the later change');
    assert.ok(!feed.text.includes('last_seq'), feed.text);
    assert.deepEqual(((await longpoll.json()) as { results: unknown[] }).results, []);
    assert.equal(await wsClosed, 1008);
    assert.ok(!wsMessages.join().includes('"after"'));
    assert.equal((await at(fay)('/shared/_changes')).status, 403);
  });
});
