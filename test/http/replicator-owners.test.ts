// Users' own `_replicator` documents, once the admin's `_security` lets them in (CouchDB 3): each
// belongs to its owner (set to its writer), only its owner reads, edits or deletes it, and its job
// runs as that user, reaching only their databases; listings and feeds stay the admin's.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

/** Accounts here take 1,000 PBKDF2 iterations, not the default 600,000 (~0.3 s of CPU each). */
const ITERATIONS = 1000;

const basic = (name: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${name}:${password}`).toString('base64') });
const ADMIN = basic('admin', 'secret');

describe("users' _replicator documents", () => {
  let server: TestServer;
  const at = (headers: Record<string, string>) => (path: string, init: { method?: string; body?: unknown } = {}) =>
    request(`${server.url}${path}`, { ...init, headers });
  const admin = at(ADMIN);
  const ann = at(basic('ann', 'pw'));
  const ben = at(basic('ben', 'pw'));
  const whenDoc = (id: string, state: 'completed' | 'crashing') => server.server.context.jobs!.whenDoc(id, state, AbortSignal.timeout(20_000));

  before(async () => {
    server = await startTestServer({ admin: 'admin:secret', passwordIterations: ITERATIONS });
    await admin('/_users', { method: 'PUT' });
    for (const name of ['ann', 'ben']) {
      const r = await at({})(`/_users/org.couchdb.user:${name}`, { method: 'PUT', body: { name, type: 'user', roles: [], password: 'pw' } });
      assert.equal(r.status, 201, r.text);
    }
    for (const db of ['src', 'dst', 'secret']) await admin(`/${db}`, { method: 'PUT' });
    for (const db of ['src', 'dst']) await admin(`/${db}/_security`, { method: 'PUT', body: { members: { names: ['ann'], roles: [] } } });
    await admin('/src/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'open' }] } });
    await admin('/secret/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'hidden' }] } });
  });
  after(() => server.close());

  test('closed to users until its _security names them', async () => {
    assert.equal((await ann('/_replicator/early', { method: 'PUT', body: { source: 'src', target: 'dst' } })).status, 403);
    await admin('/_replicator/_security', { method: 'PUT', body: { members: { names: ['ann', 'ben'], roles: [] } } });
  });

  test("a user's document is theirs and runs as them: their databases replicate, others' do not", async () => {
    const made = await ann('/_replicator/mine', { method: 'PUT', body: { source: 'src', target: 'dst' } });
    assert.equal(made.status, 201, made.text);
    assert.equal((await admin('/_replicator/mine')).body.owner, 'ann');
    await whenDoc('mine', 'completed');
    assert.equal((await admin('/dst/open')).status, 200);

    // From a database closed to her: the job cannot read it, and tries again later.
    assert.equal((await ann('/_replicator/sneaky', { method: 'PUT', body: { source: 'secret', target: 'dst' } })).status, 201);
    const state = await whenDoc('sneaky', 'crashing');
    assert.match(state.error ?? '', /not allowed/);
    assert.equal((await admin('/dst/hidden')).status, 404);
    // A POST made document is hers too; the admin's own documents run as the node.
    const posted = await ann('/_replicator', { method: 'POST', body: { source: 'src', target: 'dst', doc_ids: ['open'] } });
    assert.equal(posted.status, 201, posted.text);
    assert.equal((await admin(`/_replicator/${posted.body.id}`)).body.owner, 'ann');
    assert.equal((await admin('/_replicator/nodes', { method: 'PUT', body: { source: 'secret', target: 'dst' } })).status, 201);
    await whenDoc('nodes', 'completed');
    assert.equal((await admin('/dst/hidden')).status, 200);
  });

  test("only its owner reads, edits or deletes a document; no one writes as another; listings are the admin's", async () => {
    const mine = (await ann('/_replicator/mine')).body;
    assert.equal(mine.owner, 'ann');
    assert.equal((await ben('/_replicator/mine')).status, 403);
    assert.equal((await ben('/_replicator/mine', { method: 'PUT', body: { ...mine, owner: 'ben' } })).status, 403);
    assert.equal((await ben('/_replicator/mine', { method: 'PUT', body: { source: 'src', target: 'dst', _rev: mine._rev } })).status, 403);
    assert.equal((await ben(`/_replicator/mine?rev=${mine._rev}`, { method: 'DELETE' })).status, 403);
    assert.equal((await ben('/_replicator/forged', { method: 'PUT', body: { source: 'src', target: 'dst', owner: 'ann' } })).status, 403);
    const bulk = await ben('/_replicator/_bulk_docs', { method: 'POST', body: { docs: [{ _id: 'mine', _rev: mine._rev, _deleted: true }, { _id: 'bens', source: 'src', target: 'dst' }] } });
    assert.equal(bulk.body[0].error, 'forbidden');
    assert.ok(bulk.body[1].ok);
    assert.equal((await admin('/_replicator/bens')).body.owner, 'ben');
    for (const path of ['/_replicator/_all_docs', '/_replicator/_changes', '/_replicator/mine/att', '/_replicator/_design/x']) {
      assert.equal((await ann(path)).status, 403, path);
    }
    assert.equal((await ann('/_replicator/_find', { method: 'POST', body: { selector: {} } })).status, 403);
    assert.equal((await ann(`/_replicator/mine?rev=${mine._rev}`, { method: 'DELETE' })).status, 200);
  });

  test("no past revision is readable by a user: not a deleted document's, not one beneath their own, nor a branch", async () => {
    const json = (r: { status: number; text: string }) => `${r.status} ${r.text}`;
    // Ben's credentials, in a document he then deletes; and the admin's.
    const bens = await ben('/_replicator/backup', { method: 'PUT', body: { source: 'http://ben:benpw@127.0.0.1:1/x', target: 'dst' } });
    const gone = await ben(`/_replicator/backup?rev=${bens.body.rev}`, { method: 'DELETE' });
    assert.equal(gone.status, 200);
    for (const path of [`/_replicator/backup?rev=${bens.body.rev}`, '/_replicator/backup?open_revs=all', `/_replicator/backup?open_revs=["${bens.body.rev}"]`, '/_replicator/backup']) {
      const r = await ann(path);
      assert.ok(r.status === 403 || r.status === 404, `${path}: ${json(r)}`);
      assert.doesNotMatch(r.text, /benpw/);
    }
    // Ann takes the id over: her document's past is still not hers to read.
    // (Continuous: its job records no outcome, so the revision read stays the current one.)
    const hers = await ann('/_replicator/backup', { method: 'PUT', body: { source: 'src', target: 'dst', continuous: true } });
    assert.equal(hers.status, 201, hers.text);
    const current = await ann('/_replicator/backup');
    assert.equal(current.status, 200);
    assert.equal((await ann(`/_replicator/backup?rev=${current.body._rev}`)).status, 200);
    for (const path of [`/_replicator/backup?rev=${bens.body.rev}`, '/_replicator/backup?open_revs=all']) {
      const r = await ann(path);
      assert.equal(r.status, 403, `${path}: ${json(r)}`);
      assert.doesNotMatch(r.text, /benpw/);
    }
    // Nor by grafting a replicated revision of hers on his old one: its attachment stubs would be
    // filled from his revision. Replicated revisions (new_edits=false) are the admin's, as in _users.
    const withAtt = await ben('/_replicator/bens-att', { method: 'PUT', body: { source: 'src', target: 'dst', _attachments: { 'cred.txt': { content_type: 'text/plain', data: Buffer.from('BENS-SECRET').toString('base64') } } } });
    assert.equal(withAtt.status, 201, withAtt.text);
    await ben(`/_replicator/bens-att?rev=${withAtt.body.rev}`, { method: 'DELETE' });
    const graft = { _id: 'bens-att', _rev: '2-' + 'a'.repeat(32), _revisions: { start: 2, ids: ['a'.repeat(32), withAtt.body.rev.slice(2)] }, owner: 'ann', source: 'src', target: 'dst', _attachments: { 'cred.txt': { stub: true } } };
    assert.equal((await ann('/_replicator/bens-att?new_edits=false', { method: 'PUT', body: graft })).status, 403);
    assert.equal((await ann('/_replicator/_bulk_docs', { method: 'POST', body: { new_edits: false, docs: [graft] } })).status, 403);
    const after = await ann('/_replicator/bens-att?attachments=true');
    assert.ok(after.status === 403 || after.status === 404, after.text);
    assert.doesNotMatch(after.text, /QkVOUy1TRUNSRVQ/);
    // Local documents, which no rule checks, are the admin's.
    assert.equal((await ann('/_replicator', { method: 'POST', body: { _id: '_local/x', v: 1 } })).status, 403);
    const bulk = await ann('/_replicator/_bulk_docs', { method: 'POST', body: { docs: [{ _id: '_local/y' }] } });
    assert.equal(bulk.status, 403, bulk.text);
  });
});
