// Public databases as CouchDB 3 has them: a database is its server admins' until given a `_security`
// (GET answers CouchDB's admin-only default), and one whose `_security` names no member is public
// (couch_db:is_public_db): anyone, anonymous callers too, reads and writes its documents, while its
// design documents, `_security` and administration stay its admins'. A feed an anonymous caller keeps
// open ends once the database stops being public.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';
import { feedText } from '../helpers/feed-text.ts';

const basic = (name: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${name}:${password}`).toString('base64') });
const ADMIN = basic('admin', 'secret');

describe('public databases', () => {
  let server: TestServer;
  const as = (headers: Record<string, string>) => (path: string, init: { method?: string; body?: unknown } = {}) =>
    request(`${server.url}${path}`, { ...init, headers });
  const admin = (path: string, init: { method?: string; body?: unknown } = {}) => as(ADMIN)(path, init);
  const anon = as({});

  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: 1000 });
    for (const db of ['_users', 'open', 'closed', 'halfway']) assert.equal((await admin(`/${db}`, { method: 'PUT' })).status, 201);
    await admin('/_users/org.couchdb.user:bob', { method: 'PUT', body: { name: 'bob', type: 'user', roles: [], password: 'pw' } });
  });
  after(() => server.close());

  test('a database never given a _security is the admins’, as CouchDB 3 makes one', async () => {
    assert.deepEqual((await admin('/closed/_security')).body, { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } });
    assert.equal((await anon('/closed')).status, 401);
    assert.equal((await anon('/closed/x', { method: 'PUT', body: {} })).status, 401);
    assert.equal((await as(basic('bob', 'pw'))('/closed')).status, 403);
  });

  test('a _security naming no member opens its documents to anyone, not its administration', async () => {
    assert.equal((await admin('/open/_security', { method: 'PUT', body: {} })).status, 200);
    assert.equal((await anon('/open')).status, 200);
    const put = await anon('/open/note', { method: 'PUT', body: { by: 'anyone' } });
    assert.equal(put.status, 201, put.text);
    assert.equal((await anon('/open/note')).body.by, 'anyone');
    assert.equal((await anon('/open/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'more' }] } })).status, 201);
    assert.deepEqual((await anon('/open/_all_docs')).body.rows.map((r: { id: string }) => r.id), ['more', 'note']);
    assert.equal((await anon('/open/_changes')).body.results.length, 2);
    assert.equal((await anon('/open/_find', { method: 'POST', body: { selector: { by: 'anyone' } } })).body.docs.length, 1);
    assert.equal((await as(basic('bob', 'pw'))('/open/note')).status, 200, 'a user it does not name too');
    // What stays its admins': design documents, its _security, compaction, the database itself.
    assert.equal((await anon('/open/_design/d', { method: 'PUT', body: { views: {} } })).status, 401);
    assert.equal((await anon('/open/_security', { method: 'PUT', body: {} })).status, 401);
    assert.equal((await anon('/open/_compact', { method: 'POST', body: {} })).status, 401);
    assert.equal((await anon('/open', { method: 'DELETE' })).status, 401);
    assert.equal((await anon('/closed')).status, 401, 'the others stay closed');
    // Lists that name nobody open it as `{}` does, whoever its admins are.
    await admin('/halfway/_security', { method: 'PUT', body: { admins: { names: ['bob'], roles: [] }, members: { names: [], roles: [] } } });
    assert.equal((await anon('/halfway')).status, 200);
    // Naming a member closes it again.
    await admin('/halfway/_security', { method: 'PUT', body: { members: { names: ['bob'] } } });
    assert.equal((await anon('/halfway')).status, 401);
  });

  test('system databases keep their own rules whatever their _security', async () => {
    await admin('/_users/_security', { method: 'PUT', body: {} });
    assert.equal((await anon('/_users/org.couchdb.user:bob')).status, 401);
    assert.equal((await anon('/_users/_all_docs')).status, 401);
  });

  test('a feed an anonymous caller keeps open ends once the database stops being public', async () => {
    await admin('/feed', { method: 'PUT' });
    await admin('/feed/_security', { method: 'PUT', body: {} });
    const res = await fetch(`${server.url}/feed/_changes?feed=continuous&since=now&include_docs=true`);
    assert.equal(res.status, 200);
    const feed = feedText(res);
    await admin('/feed/before', { method: 'PUT', body: {} });
    assert.ok(await feed.until('"before"'), feed.text);
    await admin('/feed/_security', { method: 'PUT', body: { members: { names: ['bob'] } } });
    await admin('/feed/after', { method: 'PUT', body: {} });
    assert.equal(await feed.until('"after"'), false, 'the feed ends without the later change');
  });
});
