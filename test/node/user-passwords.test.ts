// The `_users` database stores no clear password: a user document's `password` becomes CouchDB's
// PBKDF2 fields on every write path (put, bulk, replicated), and the key is CouchDB's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { openNode } from '../../src/node/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { derivedKey, withHashedPassword } from '../../src/node/user-passwords.ts';

test('the derived key is PBKDF2-SHA-256 over the salt as text, as CouchDB computes it', async () => {
  const salt = '0123456789abcdef0123456789abcdef';
  const expected = pbkdf2Sync('secret', Buffer.from(salt, 'utf8'), 10, 32, 'sha256').toString('hex');
  assert.equal(await derivedKey('secret', salt, 10), expected);
  // Only user documents with a clear password change.
  const other = { _id: 'notauser', password: 'x' };
  assert.equal(await withHashedPassword(other, 10), other);
  const noPassword = { _id: 'org.couchdb.user:bob', name: 'bob' };
  assert.equal(await withHashedPassword(noPassword, 10), noPassword);
});

test('_users keeps PBKDF2 fields, never the password, whether written by put, bulk or replication', async (t) => {
  const node = await openNode({ engine: 'memory' });
  t.after(() => node.close());
  const users = await node.createDb('_users');
  const user = { _id: 'org.couchdb.user:bob', name: 'bob', type: 'user', roles: [], password: 'hunter2' };
  await users.put(user);
  await users.bulkDocs([{ ...user, _id: 'org.couchdb.user:amy', name: 'amy', password: 'pw2' }]);
  await users.bulkDocs([{ ...user, _id: 'org.couchdb.user:rep', name: 'rep', _rev: '1-abc' }], { newEdits: false });
  for (const [name, password] of [['bob', 'hunter2'], ['amy', 'pw2'], ['rep', 'hunter2']] as const) {
    const doc = await users.get(`org.couchdb.user:${name}`);
    assert.equal(doc.password, undefined, name);
    assert.deepEqual([doc.password_scheme, doc.pbkdf2_prf, doc.iterations], ['pbkdf2', 'sha256', 600_000]);
    assert.match(doc.salt as string, /^[0-9a-f]{32}$/);
    assert.equal(doc.derived_key, pbkdf2Sync(password, Buffer.from(doc.salt as string, 'utf8'), 600_000, 32, 'sha256').toString('hex'));
  }
  // The caller's object is left as it was; other databases store a `password` field as any other.
  assert.equal(user.password, 'hunter2');
  const notes = await node.createDb('notes');
  await notes.put({ _id: 'org.couchdb.user:bob', password: 'plain' });
  assert.equal((await notes.get('org.couchdb.user:bob')).password, 'plain');
});

test('a _users written by a version that stored passwords in clear is hashed when the node opens it: no clear password stays, the user logs in', async (t) => {
  const { tempDir } = await import('../helpers/db.ts');
  const dir = await tempDir('refuge-users-upgrade-');
  let node = await openNode({ dataDir: dir.path, durability: 'fast' });
  t.after(async () => {
    await node.close();
    await dir.cleanup();
  });
  const users = await node.createDb('_users');
  // What an older version stored: the document as written, its password in clear.
  users.setWritePreparation(undefined);
  await users.put({ _id: 'org.couchdb.user:bob', name: 'bob', type: 'user', roles: ['team'], password: 'bobpw' });
  assert.equal((await users.get('org.couchdb.user:bob')).password, 'bobpw');
  // A losing conflict and a deleted user holding theirs too.
  const bobConflict = { _id: 'org.couchdb.user:bob', _rev: '1-00000000000000000000000000000001', name: 'bob', type: 'user', roles: [], password: 'conflictpw' };
  await users.bulkDocs([bobConflict], { newEdits: false });
  const gone = await users.put({ _id: 'org.couchdb.user:gone', name: 'gone', type: 'user', roles: [], password: 'x' });
  await users.bulkDocs([{ _id: 'org.couchdb.user:gone', _rev: gone.rev, _deleted: true, password: 'delpw' }]);
  // An older version's database has no mark of the pass done (this one was marked when created).
  await users.removeLocal('_local/refuge-passwords-hashed');
  await node.close();
  node = await openNode({ dataDir: dir.path, durability: 'fast' });
  // Each of bob's leaves holds the derived key of its own password (the conflict's too).
  for (const leaf of await (await node.db('_users')).getOpenRevs('org.couchdb.user:bob', 'all')) {
    assert.ok('ok' in leaf);
    const doc = leaf.ok;
    assert.equal(doc.password, undefined);
    const password = (doc.roles as string[]).includes('team') ? 'bobpw' : 'conflictpw';
    assert.equal(doc.derived_key, pbkdf2Sync(password, Buffer.from(doc.salt as string, 'utf8'), doc.iterations as number, 32, 'sha256').toString('hex'));
  }
  // Nor in any other revision: no leaf holds one, and the bodies before are compacted away.
  const db = await node.db('_users');
  for (const id of ['org.couchdb.user:bob', 'org.couchdb.user:gone']) {
    for (const leaf of await db.getOpenRevs(id, 'all')) {
      assert.ok('ok' in leaf);
      assert.equal(leaf.ok.password, undefined, `${id} ${leaf.ok._rev}`);
      const { start, ids } = (await db.get(id, { rev: leaf.ok._rev!, revs: true }))._revisions as { start: number; ids: string[] };
      for (let i = 1; i < ids.length; i++) {
        await assert.rejects(db.get(id, { rev: `${start - i}-${ids[i]}` }), (e: unknown) => isRefugeError(e, 'not_found'), `${id} ${start - i}-${ids[i]}`);
      }
    }
  }
  assert.equal((await db.getOpenRevs('org.couchdb.user:bob', 'all')).length, 2, 'the conflict is kept, hashed');
  // Done once: marked, so a later open makes no second pass.
  assert.equal(((await db.get('_local/refuge-passwords-hashed')) as { hashed?: number }).hashed, 3);
});

test('passwordIterations sets the iterations of new passwords; a count a login would not derive is refused', async (t) => {
  const node = await openNode({ engine: 'memory', passwordIterations: 2000 });
  t.after(() => node.close());
  const users = await node.createDb('_users');
  await users.put({ _id: 'org.couchdb.user:kim', name: 'kim', type: 'user', roles: [], password: 'pw' });
  const doc = await users.get('org.couchdb.user:kim');
  assert.equal(doc.iterations, 2000);
  assert.equal(doc.derived_key, pbkdf2Sync('pw', Buffer.from(doc.salt as string, 'utf8'), 2000, 32, 'sha256').toString('hex'));
  for (const bad of [0, -1, 1.5, 1_000_001, Number.NaN]) {
    await assert.rejects(openNode({ engine: 'memory', passwordIterations: bad }), (e) => isRefugeError(e, 'bad_request'), String(bad));
  }
});
